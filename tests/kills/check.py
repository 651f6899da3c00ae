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

"""What Nova shows once a victim's restart has recovered: the check.

For each server a victim was moving, once its restart (``recover``, or
a new applier's first action) is over:

1. no migration of it is in progress in Nova (os-migrations; a cold
   migration at VERIFY_RESIZE, status 'finished', counts as one);
2. the server is not in VERIFY_RESIZE, MIGRATING or RESIZE and has no
   task;
3. it is ACTIVE or SHUTOFF, on its source or its destination;
4. it is on the host the recovery log says (``recovery_said``): the
   destination if recovery says the move succeeded, the source if it
   says it stopped it; and a move the kill left something of is named
   in that log at all.

Nova is given ``SETTLE_TIMEOUT`` to finish what recovery asked of it
(an abort, a confirm) before what it still shows of 1-3 counts.
"""

import os
import re
import time

from tests.faults import invariants

# Seconds Nova is given to settle; WATCHER_MIGRATE_KILLS_SETTLE shortens
# it for a run that only looks at what a kill leaves.
SETTLE_TIMEOUT = float(os.environ.get('WATCHER_MIGRATE_KILLS_SETTLE', '180'))
SETTLE_POLL = 1.0
AT_REST = ('ACTIVE', 'SHUTOFF')
LEFT_BEHIND_STATUSES = ('VERIFY_RESIZE', 'MIGRATING', 'RESIZE')

# The journal's recovery (watcher_migrate/recovery.py) ends each entry
# with "Server <id>[ (<name>)]: recovered migration[ N]: <what it did>",
# what it did starting "succeeded: ..." (the move ended on the
# destination) or "stopped: ..." (aborted or reverted: on the source),
# or saying the entry was dropped (Nova had ended it, or never had it).
_RECOVERED = re.compile(r'Server (?P<server>[0-9a-f-]{36})\b[^:]*: '
                        r'recovered migration(?: \d+)?: (?P<done>.*)')
SUCCEEDED = 'succeeded'
STOPPED = 'stopped'
DROPPED = 'dropped'


def recovery_said(log_text, server):
    """What the recovery log says it did with ``server``'s move.

    SUCCEEDED, STOPPED, DROPPED, or None if it does not name it.
    """
    said = None
    for match in _RECOVERED.finditer(log_text):
        if match.group('server') != server:
            continue
        done = match.group('done')
        if done.startswith(SUCCEEDED):
            said = SUCCEEDED
        elif done.startswith(STOPPED):
            said = STOPPED
        else:
            said = DROPPED
    return said


def expected_host(move, said):
    """Where the recovery log says the server should be; None: either."""
    return {SUCCEEDED: move.destination, STOPPED: move.source}.get(said)


def nova_violations(cloud, move):
    """Every way Nova's state of ``move.server`` breaks the promise (1-3)."""
    found = []
    busy = [m for m in cloud.migrations(move.server)
            if m['status'] in invariants.IN_PROGRESS]
    if busy:
        found.append('migrations left in progress: %s' % ', '.join(
            '%s %s (%s)' % (m['id'], m['status'], m['migration_type'])
            for m in busy))
    server = cloud.server(move.server)
    status = server['status']
    host = server.get('OS-EXT-SRV-ATTR:host')
    task = server.get('OS-EXT-STS:task_state')
    if status in LEFT_BEHIND_STATUSES:
        found.append('server left in %s on %s' % (status, host))
    elif status not in AT_REST:
        found.append('server is %s on %s, not ACTIVE or SHUTOFF'
                     % (status, host))
    if task is not None:
        found.append('server left with task %s' % task)
    if host not in (move.source, move.destination):
        found.append('server on %s, neither its source %s nor its '
                     'destination %s' % (host, move.source,
                                         move.destination))
    return found


def log_violations(cloud, move, said, left):
    """Where the recovery log and Nova disagree (4).

    :param said: what the recovery log says (``recovery_said``); None
        when it does not name the server
    :param left: what the kill left (moments.left_behind): a move of
        which something was left must be named by the recovery log
    """
    found = []
    host = cloud.server(move.server).get('OS-EXT-SRV-ATTR:host')
    wanted = expected_host(move, said)
    if wanted is not None and host != wanted:
        found.append('server on %s but the recovery log says it %s the '
                     'move: %s' % (host, said, wanted))
    if said is None and left != 'nothing':
        found.append('the kill left %s but the recovery log does not name '
                     'the server' % left)
    return found


def settled_nova_violations(cloud, move, timeout=None):
    """``nova_violations`` once Nova has had ``timeout`` s to settle.

    Nova's own last steps (an abort's rollback, a confirm) take seconds
    in the one-process Nova: its state is read again until it keeps the
    promise or the bound is over; only what outlasts the bound counts.
    """
    if timeout is None:
        timeout = SETTLE_TIMEOUT
    deadline = time.monotonic() + timeout
    found = nova_violations(cloud, move)
    while found and time.monotonic() < deadline:
        time.sleep(SETTLE_POLL)
        found = nova_violations(cloud, move)
    return found
