# ssot.governance - the two commands: `make demo` and `make test`.
# Both set up everything first (idempotent; a second run takes seconds).

SHELL := /bin/bash
ROOT := $(CURDIR)
VENV ?= $(ROOT)/.venv
WORKSPACE ?= $(ROOT)/demo-workspace
PY := $(VENV)/bin/python
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.collections
export SSOT_CACHE ?= $(ROOT)/.cache
export PATH := $(VENV)/bin:$(PATH)

.PHONY: demo test setup image lint sanity units docs changelog unit integration build clean bench-recorder \
	bench-snapshot bench-ingest bench-fleet bench-store bench-scale bench-validate

demo: image
	bash scripts/demo.sh "$(WORKSPACE)"

# The suite also needs a browser (the panel page is checked in headless chromium).
test integration: export SSOT_WITH_BROWSER := 1
# ... and the fleet's test hosts (sshd on loopback, the target side's Python libraries).
test integration bench-fleet: export SSOT_WITH_FLEET := 1
# ... and shellcheck, which ansible-test sanity runs on the shell scripts.
test sanity: export SSOT_WITH_SANITY := 1
# The ecosystem's checks first (ansible-lint, ansible-test sanity, the changelog, the rendered docs), then the unit
# suite through ansible-test (as a collection maintainer runs it) and the integration suite.
test: image
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory sanity
	$(MAKE) --no-print-directory changelog
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory units
	$(VENV)/bin/pytest tests/integration

setup:
	bash scripts/setup.sh

image: setup
	$(PY) tests/images/build_pg_image.py legacy-pg-10.23 --cache "$(SSOT_CACHE)"
	$(PY) tests/images/build_pg_image.py pg-15 --cache "$(SSOT_CACHE)"
	$(PY) tests/images/build_pg_image.py legacy-pg-12.22 --cache "$(SSOT_CACHE)"

lint: setup
	# ANSIBLE_HOME keeps the copy ansible-lint installs of this collection inside the repo.
	ANSIBLE_HOME="$(ROOT)/.ansible" $(VENV)/bin/ansible-lint --profile production

# ansible-test on a copy placed at ansible_collections/ssot/governance, with a pip bootstrap made from the package
# index (scripts/ansible_test.py; CONTRIBUTING.md says why).
sanity: setup
	$(PY) scripts/ansible_test.py sanity --venv --python 3.11

# The unit suite as ansible-test runs it: its own virtualenv with tests/unit/requirements.txt.
units: image
	$(PY) scripts/ansible_test.py units --venv --requirements --python 3.11

# The plugin and role docs rendered as a site (tests/output/docs/build/html); a malformed doc fails.
docs: setup
	$(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs .
	$(PY) scripts/build_docs.py

changelog: setup
	$(VENV)/bin/antsibull-changelog lint

# The unit suite in the project's virtualenv (the quick loop while developing).
unit: setup
	$(VENV)/bin/pytest tests/unit

integration: image
	$(VENV)/bin/pytest tests/integration

# Benchmarks: figures go to docs/benchmarks.md. make test runs each in its smoke mode only (--smoke: tiny size, one
# run; tests/integration/test_benchmarks.py), so that a change that breaks one fails the suite.
bench-recorder: setup
	$(PY) bench/recorder_overhead.py --write docs/benchmarks.md

# The recorder on its postgresql store beside the files store and a bare playbook, 200 tasks x 5 hosts (~6 minutes).
bench-store: image
	$(PY) bench/store_bench.py --write docs/benchmarks.md

# Snapshot role against the raw commands, 200 MiB and 2 GiB databases (about 30 minutes here).
bench-snapshot: image
	$(PY) bench/snapshot_bench.py --write docs/benchmarks.md

# Ingest role against the raw pg_dump | pg_restore pipeline, 200 MiB and 2 GiB (about 30 minutes here).
bench-ingest: image
	$(PY) bench/ingest_bench.py --write docs/benchmarks.md

# Validate 1, 4 and 12 environments over SSH side by side (about 5 minutes here).
bench-fleet: image
	$(PY) bench/fleet_bench.py --write docs/benchmarks.md

# 10, 100 and 1,000 environments in one run, bare and recorded, files and postgresql stores, under ulimit -n 1024
# (about 25 minutes here).
bench-scale: image
	$(PY) bench/scale_bench.py --write docs/benchmarks.md

# One validate of the demo beside a one-task playbook, with the demo's history and 100x / 1,000x of it (about 15
# minutes here).
bench-validate: image
	$(PY) bench/validate_bench.py --write docs/benchmarks.md

# Collection tarball, as published.
build: setup
	$(VENV)/bin/ansible-galaxy collection build --force --output-path "$(ROOT)"

clean:
	rm -rf "$(ROOT)/.collections" "$(ROOT)"/ssot-governance-*.tar.gz tests/output
