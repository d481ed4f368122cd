# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL connection options, written once for every module that connects."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host the PostgreSQL server listens on, as seen from the target.
    type: str
    default: 127.0.0.1
  login_port:
    description:
      - TCP port of the server.
    type: int
    default: 5432
  login_user:
    description:
      - Role to connect as.
    type: str
    default: postgres
  login_password:
    description:
      - Password of O(login_user). Take it from a secret reference (environment
        variable or vault), never from the SSOT itself. Never logged.
    type: str
  login_db:
    description:
      - Database to connect to.
    type: str
    default: postgres
  connect_timeout:
    description:
      - Seconds to wait for the connection.
    type: int
    default: 10
requirements:
  - psycopg2 (C(psycopg2-binary)) on the target; it speaks to servers from 9.x on.
'''
