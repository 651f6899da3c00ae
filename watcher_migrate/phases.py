# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""What one look at Nova says of a move: pure decisions, no I/O.

Each function takes what was observed (a ``tracking.Look``: the server,
our migration record) and what the move aims at (a ``Target``) and answers
a phase, or None while there is nothing to decide yet. They never read
Nova, send a request or keep state: the move that asks owns every effect
(confirm, abort, resend, reading the record to explain a failure).
"""

import dataclasses

from watcher_migrate import tuning

# Migration record statuses (nova/compute, nova/conductor).
LIVE_IN_PROGRESS = frozenset(
    ['accepted', 'queued', 'preparing', 'running', 'post-migrating'])
LIVE_ABORTABLE = frozenset(['queued', 'preparing', 'running'])
# Statuses in which GET /servers/{id}/migrations/{id} answers (2.23+).
LIVE_RUNNING_READABLE = frozenset(['queued', 'preparing', 'running'])
COLD_IN_PROGRESS = frozenset(
    ['accepted', 'pre-migrating', 'migrating', 'post-migrating'])
FAILED_STATUSES = frozenset(['error', 'failed', 'cancelled',
                             'done-with-error'])
COMPLETED = 'completed'
FINISHED = 'finished'
REVERTING = 'reverting'
REVERTED = 'reverted'
# What a live migration's record says while its copy has not begun.
NOT_BEGUN = ('accepted', 'preparing')
BEGUN = ('running', 'post-migrating', 'completed')

# Server task_states that mean a move (ours, once it is started) is on.
MOVE_TASK_STATES = frozenset(
    ['migrating', 'resize_prep', 'resize_migrating', 'resize_migrated',
     'resize_finish', 'resize_reverting', 'resize_confirming'])

LIVE_OK_STATUSES = ('ACTIVE', 'PAUSED')
COLD_OK_STATUSES = ('ACTIVE', 'SHUTOFF')
VERIFY_RESIZE = 'VERIFY_RESIZE'


# -- phases ------------------------------------------------------------------

#: The server no longer exists: one terminal phase, whatever the wait.
GONE = 'gone'
#: On the destination, idle, in a status the move keeps (cold: Nova
#: already confirmed it).
LANDED = 'landed'
#: Live: on the destination and idle, but in a status it should not be.
LANDED_UNWELL = 'landed unwell'
#: Cold: on the destination in VERIFY_RESIZE, to be confirmed or reverted.
RESIZED = 'resized'
#: Idle, not moved, and Nova's records agree that the move failed.
FAILED = 'failed'
#: Idle on the source and no record of the move after the grace.
NEVER_STARTED = 'never started'
#: Confirm: done, the server in the status it had before the move.
CONFIRMED = 'confirmed'
#: Confirm: done, but the server is in another status than before.
CONFIRMED_CHANGED = 'confirmed changed'
#: Settling (after an abort, before a revert): Nova has nothing in
#: progress for the move any more and the server is idle.
SETTLED = 'settled'
#: Revert: the record ended (reverted or failed) and the server is idle.
REVERT_ENDED = 'revert ended'


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a move goes: what every decision compares the server to.

    :param live: live (True) or cold migration
    :param source: the host the server left
    :param destination: the host asked for, or None (Nova's choice)
    """

    live: bool
    source: str
    destination: str = None

    @property
    def in_progress(self):
        return LIVE_IN_PROGRESS if self.live else COLD_IN_PROGRESS

    def reached(self, server):
        """Whether ``server`` (a ServerView) is where the move sends it."""
        if self.destination:
            return server.host == self.destination
        return server.host != self.source


def idle(look):
    """The server was read and has no task in progress."""
    return look.server is not None and look.server.task_state is None


def of_move(look, target, unexplained_for=0.0):
    """The phase of a move being followed.

    The server decides: Nova moves it (host, task cleared) before it marks
    the record completed. An idle server elsewhere than the destination
    is explained by the record, which may lag the server: while it shows
    the move in progress (or no record yet) for less than
    RECORDS_AGREE_GRACE, nothing is decided.

    :param unexplained_for: how long (s) the server has been idle and not
        where a success would put it
    :returns: GONE, LANDED, LANDED_UNWELL, RESIZED, FAILED, NEVER_STARTED
        or None (go on following)
    """
    if look.server_gone:
        return GONE
    if not idle(look):
        return None
    server = look.server
    if target.reached(server):
        if target.live:
            return LANDED if server.status in LIVE_OK_STATUSES \
                else LANDED_UNWELL
        if server.status == VERIFY_RESIZE:
            return RESIZED
        if server.status in COLD_OK_STATUSES:
            return LANDED
    if server.status == 'ERROR':
        return FAILED
    record = look.migration
    if record is None or record.status in target.in_progress:
        if unexplained_for < tuning.RECORDS_AGREE_GRACE:
            return None
        if record is None:
            return NEVER_STARTED
    return FAILED


def needs_record(look, target):
    """Whether the move's final record is needed to explain this look.

    True when the server is idle and not landed well: its record says
    why (and whether Nova has caught up yet).
    """
    phase = of_move(look, target,
                    unexplained_for=tuning.RECORDS_AGREE_GRACE)
    return phase in (LANDED_UNWELL, FAILED, NEVER_STARTED)


def of_confirm(look, target, original_status):
    """The phase of a cold migration being confirmed.

    :returns: GONE, RESIZED (still waiting to be confirmed), CONFIRMED,
        CONFIRMED_CHANGED, FAILED (ERROR, or reverted by someone else) or
        None (a task is on)
    """
    if look.server_gone:
        return GONE
    if not idle(look):
        return None
    server = look.server
    if server.status == 'ERROR' or not target.reached(server):
        return FAILED
    if server.status == VERIFY_RESIZE:
        return RESIZED
    if server.status == original_status:
        return CONFIRMED
    return CONFIRMED_CHANGED


def of_stopping_live(look):
    """The phase of a live migration being aborted.

    :returns: SETTLED once nothing of it is in progress and the server is
        idle (or gone), else None
    """
    migration = look.migration
    if migration is not None and migration.status in LIVE_IN_PROGRESS:
        return None
    return SETTLED if look.server_gone or idle(look) else None


def abortable(migration, queued_abort_supported):
    """Whether Nova accepts an abort of ``migration`` now."""
    if migration is None:
        return False
    if migration.status == 'running':
        return True
    return migration.status in LIVE_ABORTABLE and queued_abort_supported


def stopped_on_destination(look, target):
    """After a stop: whether the move completed anyway."""
    return (not look.server_gone and look.server is not None
            and target.reached(look.server))


def of_revert(look):
    """The phase of a cold migration being reverted.

    :returns: GONE, REVERT_ENDED, RESIZED (idle with the record still
        'finished': the revert has not reached Nova) or None
    """
    if look.server_gone:
        return GONE
    if not idle(look):
        return None
    if look.status in (REVERTED,) + tuple(FAILED_STATUSES):
        return REVERT_ENDED
    if look.status == FINISHED:
        return RESIZED
    return None


def leftover(look, live, auto_confirm):
    """Whether a record left after execute is a move still to stop.

    A migration in progress is; so is a cold one waiting in 'finished'
    (VERIFY_RESIZE) when the action should have confirmed it.
    """
    migration = look.migration
    if migration is None:
        return False
    if migration.status in (LIVE_IN_PROGRESS if live else COLD_IN_PROGRESS):
        return True
    return not live and auto_confirm and migration.status == FINISHED
