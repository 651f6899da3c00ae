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

"""The promise every action keeps, whatever went wrong: one check.

After an action (a :class:`harness.Run`), Nova is asked where things
stand, and:

1. the answer is true to what Nova did: success exactly when the server
   is on the destination (any other host if the scheduler chose), in its
   expected status (as before; VERIFY_RESIZE for a cold migration left
   unconfirmed on purpose), with no task in progress;
2. no migration of the server is left in progress: after a success, one
   that Nova is still finishing (it puts the server on the destination
   before it marks the record completed) must end on its own within
   FINISHING seconds, with nobody acting on it;
3. the server is not left in VERIFY_RESIZE or MIGRATING;
4. a failure says why: its message names the cause;
5. Nova received the move request at most once, not counting requests
   it refused with 409 (it did not act on those);
6. the action raised only the plugin's own exceptions.
"""

import re
import time

from embedded_nova import client as embedded_client
from tests.faults import harness

# Migration statuses that are not final (live and cold).
IN_PROGRESS = frozenset([
    'accepted', 'queued', 'preparing', 'running', 'post-migrating',
    'pre-migrating', 'migrating', 'finished', 'confirming', 'reverting'])
LEFT_BEHIND_STATUSES = ('VERIFY_RESIZE', 'MIGRATING')
# Seconds after which a migration left in progress is looked at again.
LATER = 3.0
# After a success, the time Nova may take to mark the record completed on
# its own. The embedded Nova runs every service in one Python process:
# with 30 actions at once its last post-migration steps have taken more
# than 10 s (the benchmark measures 10 to 90 s at 50 migrations).
FINISHING = 60.0


def server_or_none(cloud, server):
    """The server, or None once it is gone.

    A server Nova shows DELETED is gone, as the action judges it, even if
    Nova still shows the task it was deleted in while it finishes.
    """
    try:
        found = cloud.server(server)
    except embedded_client.HTTPError as e:
        if e.status == 404:
            return None
        raise
    return None if found['status'] in ('DELETED', 'SOFT_DELETED') else found


def describe(server):
    if server is None:
        return 'the server is gone'
    return 'server is %s on %s (task %s, vm_state %s)' % (
        server['status'], server.get('OS-EXT-SRV-ATTR:host'),
        server.get('OS-EXT-STS:task_state'),
        server.get('OS-EXT-STS:vm_state'))


def _once_deleted(cloud, run, found):
    """The server once Nova has finished deleting it: None, in time.

    Nova shows a server DELETED before it has finished deleting it, and a
    move still in flight on the compute host may write the server in the
    meantime (the failed resize sets it ERROR, task resize_migrating);
    only Nova's own end of the deletion tells whether anything is left.
    """
    deadline = time.monotonic() + FINISHING
    server = server_or_none(cloud, run.server)
    while server is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        server = server_or_none(cloud, run.server)
    if server is not None:
        found.append('server deleted by the test still there %.0f s later: '
                     '%s' % (FINISHING, describe(server)))
    return server


def violations(cloud, run, cause=None, allow_skip=False, deleted=False):
    """Every way ``run`` broke the promise; an empty list if none.

    :param cause: a regular expression a failure message must match
    :param allow_skip: a skipped action is acceptable (else a violation)
    :param deleted: the test deleted the server while the action ran
    """
    found = []
    if deleted:
        server = _once_deleted(cloud, run, found)
    else:
        server = server_or_none(cloud, run.server)
    unconfirmed = (run.migration_type == harness.COLD
                   and not run.auto_confirm)
    expected = 'VERIFY_RESIZE' if unconfirmed else run.status_before
    placed = False
    if server is not None:
        host = server.get('OS-EXT-SRV-ATTR:host')
        on_destination = (host == run.destination if run.destination
                          else host != run.source)
        placed = (on_destination and server['status'] == expected
                  and server.get('OS-EXT-STS:task_state') is None)
    if run.skipped and not allow_skip:
        found.append('skipped: %s' % run.message)
    if run.succeeded and not placed:
        found.append('reported success but %s (expected %s on %s)'
                     % (describe(server), expected,
                        run.destination or 'another host'))
    if not run.succeeded and placed:
        found.append('reported failure but Nova moved it: %s'
                     % describe(server))

    migrations = [] if server is None else cloud.migrations(run.server)
    left = [m for m in migrations if m['status'] in IN_PROGRESS
            and not (unconfirmed and run.succeeded
                     and m['status'] == 'finished')]
    if left and run.succeeded and placed:
        # Nova's own last steps after the server landed: they must end
        # without anyone acting on them.
        deadline = time.monotonic() + FINISHING
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            now = dict((m['id'], m['status'])
                       for m in cloud.migrations(run.server))
            left = [m for m in left if now.get(m['id']) in IN_PROGRESS]
    if left:
        # Whether Nova ends them by itself tells a late answer from a
        # migration abandoned midway; either breaks the promise.
        time.sleep(LATER)
        later = dict((m['id'], m['status'])
                     for m in cloud.migrations(run.server))
        found.append('migrations left in progress: %s' % ', '.join(
            '%s %s (%.0f s later: %s)' % (m['id'], m['status'], LATER,
                                          later.get(m['id']))
            for m in left))
    if server is not None:
        if server['status'] in LEFT_BEHIND_STATUSES and \
                not (unconfirmed and run.succeeded):
            found.append('server left in %s: %s'
                         % (server['status'], describe(server)))
        elif server.get('OS-EXT-STS:task_state') is not None:
            found.append('server left with task %s: %s'
                         % (server['OS-EXT-STS:task_state'],
                            describe(server)))

    if not run.succeeded and not run.skipped:
        if not run.message.strip():
            found.append('failure without a message')
        if cause is not None and not re.search(cause, run.message):
            found.append('failure message does not name the cause /%s/: '
                         '%r' % (cause, run.message))

    moves = harness.nova_requests(cloud).moves(
        run.server, run.started, run.ended, run.migration_type)
    acted_on = [m for m in moves if m['status'] != 409]
    if len(acted_on) > 1:
        found.append('Nova received the move request %d times: %s' % (
            len(acted_on), ', '.join('%s at %.2f -> %s' % (
                m['action'], m['start'] - run.started, m['status'])
                for m in acted_on)))
    for error in run.foreign_errors:
        found.append('not the plugin\'s exception: %s' % error)
    return found


def assert_invariants(cloud, run, cause=None, allow_skip=False,
                      deleted=False):
    """Fail, listing every violation, unless ``run`` kept the promise."""
    found = violations(cloud, run, cause=cause, allow_skip=allow_skip,
                       deleted=deleted)
    if found:
        raise AssertionError(explain(cloud, run, found))
    return run


def explain(cloud, run, problems):
    """What the action did, what is wrong, and what Nova received."""
    requests = harness.nova_requests(cloud).about(run.server, run.started,
                                                  run.ended)
    return ('action on server %s (%s %s -> %s) %s after %.1f s: %r\n  - %s'
            '\nNova received (seconds from the start of the action):\n  %s'
            % (run.server, run.migration_type, run.source, run.destination,
               run.outcome, run.seconds, run.message,
               '\n  - '.join(problems),
               '\n  '.join(harness.excerpt(requests, run.started))))
