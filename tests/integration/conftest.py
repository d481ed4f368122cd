"""Integration fixtures; the helpers live in _support.py (importable by name from the tests)."""

from _support import (container_names, docker_engine, legacy_image, new_container, server_image,  # noqa: F401
                      tools)
