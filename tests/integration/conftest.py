"""Integration fixtures; the helpers live in _support.py (importable by name from the tests)."""

# pytest finds fixtures by name in this module: they are imported for that alone.
from _support import (  # noqa: F401  pylint: disable=unused-import
    container_names, docker_engine, each_server, legacy_image, new_container, server_image, tools)
