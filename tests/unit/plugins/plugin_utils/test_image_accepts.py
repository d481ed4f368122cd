"""What of an image's own configuration runs: only what the SSOT's target.image_accepts accepts."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._plan import image_not_accepted

DEMO = {"Entrypoint": ["/bin/sh", "/usr/local/bin/docker-entrypoint.sh"],
        "Env": ["PATH=/usr/local/bin:/usr/bin", "PGDATA=/var/lib/postgresql/data"]}
ACCEPTS = {"entrypoint": ["/bin/sh", "/usr/local/bin/docker-entrypoint.sh"], "env": ["PATH", "PGDATA"]}


def test_the_demo_image_runs_as_the_ssot_accepts_it():
    assert image_not_accepted(DEMO, ACCEPTS, ["POSTGRES_PASSWORD"], True) == []
    # A committed container (the MODIFY exposure path) carries the SSOT's own variables and command: the SSOT's.
    committed = dict(DEMO, Env=DEMO["Env"] + ["POSTGRES_PASSWORD=x"], Cmd=["-cwal_level=replica"])
    assert image_not_accepted(committed, ACCEPTS, ["POSTGRES_PASSWORD"], True) == []


def test_what_a_hostile_image_adds_is_refused_and_named():
    """The issue's image: an entrypoint wrapper starting a second server, a trust environment, a volume, a command."""
    hostile = {"Entrypoint": ["/wrap.sh"], "Cmd": ["postgres"], "Volumes": {"/srv/leak": {}},
               "Env": DEMO["Env"] + ["POSTGRES_HOST_AUTH_METHOD=trust"]}
    found = image_not_accepted(hostile, ACCEPTS, ["POSTGRES_PASSWORD"], False)
    assert [f["what"] for f in found] == ["entrypoint", "cmd", "env", "volumes"]
    assert found[0]["found"] == ["/wrap.sh"] and "POSTGRES_HOST_AUTH_METHOD" in found[2]["found"]
    assert found[3]["found"] == ["/srv/leak"]
    # The SSOT's command replaces the image's: no cmd item then.
    assert "cmd" not in [f["what"] for f in image_not_accepted(hostile, ACCEPTS, [], True)]
    # An SSOT that accepts nothing refuses whatever the image declares; an image declaring nothing passes it.
    assert [f["what"] for f in image_not_accepted(DEMO, {}, [], True)] == ["entrypoint", "env"]
    assert image_not_accepted({}, {}, [], False) == []
    assert image_not_accepted(None, None) == []
