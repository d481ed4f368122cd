# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The events the callback sends to the recorder's writer process, one type each.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

The writer dispatches on the event's type (``_recorder.HANDLERS``), never on a name: an event
it has no handler for is a recorder failure, named, not a method looked up by a string.
Each is a plain tuple (cheap to pickle down the pipe).
"""

from __future__ import annotations

from collections import namedtuple

StartPlay = namedtuple("StartPlay", "name plan")
StartTask = namedtuple("StartTask", "step")
Learn = namedtuple("Learn", "values")
Result = namedtuple("Result", "entry")
SsotLoaded = namedtuple("SsotLoaded", "result")
Checks = namedtuple("Checks", "checks")
Findings = namedtuple("Findings", "findings")
Evidence = namedtuple("Evidence", "name content step host task")
Decision = namedtuple("Decision", "decision")
Milestone = namedtuple("Milestone", "milestone")
Snapshot = namedtuple("Snapshot", "snapshot")
Rollback = namedtuple("Rollback", "record step host")
# A claim refused at the point of use (a target claiming a controller record, an unattested decision): a record too.
Refused = namedtuple("Refused", "refusal step host")
Close = namedtuple("Close", "status stats")
Interrupt = namedtuple("Interrupt", "reason")
