# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the collection reaches the container engine: the Docker CLI, through this adapter.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib + ansible (it runs
where the Docker CLI is).

Every ``docker`` command line of the collection is built here and run by one of seven calls:

- ``run`` / ``exec``: a command whose output is small (inspect, psql -At, --version), through
  ``module.run_command`` (or, with no module - a test, a benchmark - the same call in a subprocess);
- ``inspect``: ``docker inspect`` parsed, None when the object does not exist;
- ``stream``: a command's stdout handed to a writer in fixed blocks (pg_dumpall, docker save -
  constant memory, nothing large in a result);
- ``feed``: a command's stdin written by a producer (a dump file line by line, a tar stream);
- ``pipe``: one command's stdout straight into another's stdin (an OS pipe: pg_dump in one
  container into pg_restore in another; the data never enters this process);
- ``relay``: one command's stdout into another's stdin through a check (a tar stream between two
  containers kept to regular files, streamed);
- ``script``: a snapshot's recipe - the shell lines its manifest prints for a person - run as printed.

Tests replace the engine with a fake one (tests/unit/plugins/modules/fake_engine.py) that answers
the calls that start processes, so a module's ``main()`` runs without Docker; integration tests use this one against a
real engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading

from ansible_collections.ssot.governance.plugins.module_utils._text import Coded

BLOCK = 1 << 20
STDERR_LINES = 200


class EngineError(Coded):
    """A docker command failed; the message names the command and what docker said."""


def _drain(stream, sink, keep=None, limit=STDERR_LINES):
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        if line and len(sink) < limit and (keep is None or keep(line)):
            sink.append(line)


class Engine(object):
    """The Docker CLI, reached through ``module.run_command`` and, for the streaming calls, OS pipes."""

    def __init__(self, module=None, binary="docker"):
        self.module = module
        found = module.get_bin_path(binary) if module is not None else None
        self.binary = found or binary

    def argv(self, args):
        return [self.binary] + [str(a) for a in args]

    # --- small outputs --------------------------------------------------------
    def run(self, args, data=None, text=True, secrets=None):
        """(rc, stdout, stderr) of ``docker <args>``; ``data`` (bytes or text) goes to its stdin; ``secrets`` are
        variables of the docker CLI's own environment (never on a command line: see ``passed``)."""
        argv = self.argv(args)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if self.module is not None:
            rc, out, err = self.module.run_command(argv, data=data, binary_data=True, encoding=None,
                                                   environ_update=dict(secrets or {}))
        else:
            proc = subprocess.run(argv, input=data, capture_output=True, check=False, env=_environ(secrets))
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        if text:
            out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        return rc, out, err

    def exec(self, container, argv, data=None, text=True, env=None, secrets=None):
        """(rc, stdout, stderr) of ``argv`` inside ``container`` (``-i`` when ``data`` goes to its stdin), with the
        variables of ``env`` set for it, and those of ``secrets`` handed over without their values on any command
        line (``passed``)."""
        flags = [x for k, v in sorted((env or {}).items()) for x in ("-e", "%s=%s" % (k, v))] + passed(secrets)
        return self.run(["exec"] + flags + (["-i"] if data is not None else []) + [container] + list(argv), data, text,
                        secrets)

    def inspect(self, name, kind="container", fmt=None):
        """``docker <kind> inspect`` of ``name``: the parsed object (or the formatted text); None when absent."""
        rc, out, err = self.run([kind, "inspect"] + (["--format", fmt] if fmt else []) + [name])
        if rc != 0:
            return None
        if fmt is not None:
            return out.strip()
        try:
            found = json.loads(out)
        except ValueError:
            raise EngineError("engine.unreadable", kind=kind, name=name, answer=out.strip()[:200])
        return found[0] if isinstance(found, list) and found else None

    def running(self, name):
        """True / False for an existing container, None when there is none of that name."""
        state = self.inspect(name, fmt="{{.State.Running}}")
        return None if state is None else state == "true"

    # --- streams ----------------------------------------------------------------
    def stream(self, args, write):
        """``docker <args>`` with its stdout handed to ``write(block)``. Returns (rc, stderr text)."""
        proc = subprocess.Popen(self.argv(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        errors = []
        reader = threading.Thread(target=_drain, args=(proc.stderr, errors))
        reader.start()
        try:
            while True:
                chunk = proc.stdout.read(BLOCK)
                if not chunk:
                    break
                write(chunk)
        finally:
            proc.stdout.close()
            rc = proc.wait()
            reader.join()
        return rc, "\n".join(errors)

    def feed(self, args, produce, keep=None, secrets=None):
        """``docker <args>`` with ``produce(stdin)`` writing its input. Returns (rc, stderr lines ``keep`` keeps).
        ``secrets``: variables of the docker CLI's environment (its command line names them: ``passed``)."""
        proc = subprocess.Popen(self.argv(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=_environ(secrets))
        errors = []
        reader = threading.Thread(target=_drain, args=(proc.stderr, errors, keep))
        reader.start()
        try:
            produce(proc.stdin)
        finally:
            try:
                proc.stdin.close()
            except OSError:          # the command already ended (its error says why)
                pass
            rc = proc.wait()
            reader.join()
        return rc, errors

    def script(self, text, cwd, env=None, timeout=None):
        """``sh -e -c <text>`` in ``cwd``, with the variables of ``env`` and this engine's docker CLI first on PATH: the
        lines a snapshot's recipe prints, run as a person pastes them. Returns (rc, the last STDERR_LINES lines of its
        output, stdout and stderr as they came); rc None when ``timeout`` seconds passed (the shell is killed)."""
        environ = dict(os.environ, **dict(env or {}))
        environ["PATH"] = os.pathsep.join([os.path.dirname(self.binary) or ".", environ.get("PATH", "")]) \
            if os.path.isabs(self.binary) else environ.get("PATH", "")
        try:
            proc = subprocess.run(["sh", "-e", "-c", text], cwd=cwd, env=environ, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            out, rc = exc.output or b"", None
        else:
            out, rc = proc.stdout, proc.returncode
        return rc, out.decode("utf-8", "replace").splitlines()[-STDERR_LINES:]

    def relay(self, producer, consumer, carry):
        """``docker <producer>`` stdout read by ``carry(stdout, stdin)``, which writes ``docker <consumer>`` stdin: what
        passes between two commands checked on its way (a tar stream kept to regular files). Returns (rc_producer,
        rc_consumer, stderr lines of both); an error ``carry`` raises stops both and propagates."""
        first = subprocess.Popen(self.argv(producer), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        errors = []
        reader = threading.Thread(target=_drain, args=(first.stderr, errors))
        reader.start()
        try:
            rc2, more = self.feed(consumer, lambda stdin: carry(first.stdout, stdin))
        finally:
            first.stdout.close()          # a producer still writing ends on a broken pipe
            rc1 = first.wait()
            reader.join()
        return rc1, rc2, errors + more

    def pipe(self, producer, consumer, stdin_path=None, secrets=None):
        """``docker <producer>`` stdout straight into ``docker <consumer>`` stdin (an OS pipe).

        ``producer`` None: the consumer reads the file ``stdin_path``. ``secrets``: variables of the consumer's docker
        CLI environment (its command line names them: ``passed``). Returns (rc_producer, rc_consumer, stderr lines of
        both).
        """
        errors = []
        src_file = None
        first = None
        if producer is None:
            src_file = open(stdin_path, "rb")
            stdin = src_file
        else:
            first = subprocess.Popen(self.argv(producer), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            stdin = first.stdout
        try:
            second = subprocess.Popen(self.argv(consumer), stdin=stdin, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, env=_environ(secrets))
            if first is not None:
                first.stdout.close()      # the consumer holds the only reader: a failing consumer stops the producer
            threads = [threading.Thread(target=_drain, args=(p.stderr, errors)) for p in (first, second) if p]
            for t in threads:
                t.start()
            rc2 = second.wait()
            rc1 = first.wait() if first is not None else 0
            for t in threads:
                t.join()
        finally:
            if src_file is not None:
                src_file.close()
        return rc1, rc2, errors


def passed(secrets):
    """``docker exec`` flags that hand the variables of ``secrets`` into the container by name only: ``-e NAME``
    takes the value from the docker CLI's environment, so no value is on a command line (``ps``, docker's own
    records of the exec)."""
    return [x for k in sorted(secrets or {}) for x in ("-e", k)]


def _environ(secrets):
    return dict(os.environ, **secrets) if secrets else None


def dbname(name):
    """A database name as the value of a ``dbname=`` keyword: what psql, pg_dump and pg_restore take as ``-d``. A
    bare name holding ``=`` or starting ``postgresql://`` is read by libpq as a connection string (a source's
    database named ``dbname=postgres`` would be the server's postgres); quoted as a value it is only a name."""
    return "dbname='%s'" % name.replace("\\", "\\\\").replace("'", "\\'")


def psql_argv(user, db, *extra):
    """The argv of psql inside a container over its socket as ``user`` on database ``db`` (a name, never a
    connection string: dbname) with no password, then ``extra``."""
    return ["psql", "-U", user, "-d", dbname(db)] + list(extra)
