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

"""The three moments a victim is killed at, and how the harness sees them.

The harness watches Nova itself (the compute API of the embedded Nova,
nothing of the victim) and kills when Nova shows the moment:

- ``mid-live-copy``: a live migration whose copy lasts LIVE_COPY_SECONDS,
  killed at a random time within the copy once Nova shows it running;
  its deadline (live_timeout) is drawn either past the copy's end
  (recovery follows it to completion) or within it (recovery must
  apply timeout_action, abort);
- ``mid-cold-move``: a cold migration whose disk copy lasts
  COLD_MOVE_SECONDS, killed at a random time before VERIFY_RESIZE;
- ``at-verify-resize``: a short cold migration, killed as soon as Nova
  shows the server in VERIFY_RESIZE (Nova polled every
  VERIFY_RESIZE_POLL seconds), before the victim's confirm if the
  harness wins the race; what Nova shows right after the kill says
  whether it did.
"""

import dataclasses
import time

from tests.faults import invariants

LIVE = 'live'
COLD = 'cold'
LIVE_COPY = 'mid-live-copy'
COLD_MOVE = 'mid-cold-move'
VERIFY_RESIZE = 'at-verify-resize'
MOMENTS = (LIVE_COPY, COLD_MOVE, VERIFY_RESIZE)
KIND = {LIVE_COPY: LIVE, COLD_MOVE: COLD, VERIFY_RESIZE: COLD}

# Long enough to kill well inside, short enough for dozens of kills.
LIVE_COPY_SECONDS = 24
# A deadline inside the copy: the victim would abort at it, so the kill
# comes before (KILL_WITHIN of it) and recovery must abort.
DEADLINE_WITHIN_COPY = 16
# Past the copy's end: recovery follows the copy to completion.
DEADLINE_PAST_COPY = 600
COLD_MOVE_SECONDS = 10
# The copy of an at-verify-resize kill: VERIFY_RESIZE comes quickly.
SHORT_COLD_SECONDS = 1
# Kills land within this fraction of the window, not at its very end.
KILL_WITHIN = 0.8
# The harness's reads while it waits for VERIFY_RESIZE: as often as the
# one-process Nova answers; the victims poll every 0.5 s or more.
VERIFY_RESIZE_POLL = 0.02
WATCH_POLL = 0.2
# Seconds Nova may take to show the moment after the victim starts
# (an applier starts in a few seconds; a live migration may queue).
MOMENT_TIMEOUT = 180

# Nova's migration statuses while it is still busy with a migration
# ('finished' is a cold migration waiting at VERIFY_RESIZE).
BUSY = invariants.IN_PROGRESS - {'finished'}


class MomentMissed(AssertionError):
    """Nova never showed the moment, or the victim exited before it."""


@dataclasses.dataclass
class Move:
    """The migration a victim is given, as the harness arranged it."""

    server: str
    moment: str
    source: str
    destination: str
    live_timeout: int = DEADLINE_PAST_COPY
    # Seconds from the moment Nova shows (live: copy running; cold: disk
    # copy begun) within which the kill comes, at random.
    kill_window: float = 0.0

    @property
    def kind(self):
        return KIND[self.moment]

    def input_parameters(self):
        return {'resource_id': self.server, 'migration_type': self.kind,
                'source_node': self.source,
                'destination_node': self.destination}

    def step(self):
        """The move as a step of a Watcher action plan."""
        from embedded_watcher import deployment  # needs python-watcher
        return deployment.Step(self.server, self.kind, self.source,
                               self.destination)


@dataclasses.dataclass
class Kill:
    """When the victim was killed and what Nova showed right after."""

    moment: str
    after_seconds: float
    status: str = None
    task_state: str = None
    migration_status: str = None

    @property
    def still_verify_resize(self):
        """Nova still had the server in VERIFY_RESIZE, unconfirmed."""
        return (self.status == 'VERIFY_RESIZE'
                and self.migration_status == 'finished')


def arrange(cloud, server, moment, source, destination, rng):
    """Set the fake driver for ``server``; the Move to give the victim."""
    move = Move(server, moment, source, destination)
    if moment == LIVE_COPY:
        move.live_timeout = rng.choice((DEADLINE_WITHIN_COPY,
                                        DEADLINE_PAST_COPY))
        move.kill_window = KILL_WITHIN * min(LIVE_COPY_SECONDS,
                                             move.live_timeout)
        cloud.set_driver(instance=server, live_duration=LIVE_COPY_SECONDS,
                         live_migration_monitor_interval=1)
    elif moment == COLD_MOVE:
        move.kill_window = KILL_WITHIN * COLD_MOVE_SECONDS
        cloud.set_driver(instance=server, cold_duration=COLD_MOVE_SECONDS)
    else:
        cloud.set_driver(instance=server, cold_duration=SHORT_COLD_SECONDS)
    return move


def latest_migration(cloud, server):
    migrations = cloud.migrations(server)
    return migrations[0] if migrations else None


def _wait(victim, until, poll):
    deadline = time.monotonic() + MOMENT_TIMEOUT
    while time.monotonic() < deadline:
        found = until()
        if found:
            return found
        if not victim.alive:
            raise MomentMissed('the %s exited with %s before the moment:\n%s'
                               % (victim.name, victim.process.returncode,
                                  victim.log()[-3000:]))
        time.sleep(poll)
    raise MomentMissed('Nova did not show the moment within %d s'
                       % MOMENT_TIMEOUT)


def kill_at(cloud, move, victim, rng):
    """Wait for ``move.moment`` in Nova, SIGKILL the victim; the Kill."""
    started = time.monotonic()
    if move.moment == LIVE_COPY:
        _wait(victim, lambda: (latest_migration(cloud, move.server) or
                               {}).get('status') == 'running', WATCH_POLL)
        time.sleep(rng.uniform(0, move.kill_window))
    elif move.moment == COLD_MOVE:
        _wait(victim, lambda: cloud.server(move.server).get(
            'OS-EXT-STS:task_state') == 'resize_migrating', WATCH_POLL)
        time.sleep(rng.uniform(0, move.kill_window))
    else:
        _wait(victim, lambda: cloud.server(move.server)['status'] ==
              'VERIFY_RESIZE', VERIFY_RESIZE_POLL)
    if not victim.alive:
        raise MomentMissed('the %s exited with %s before the kill'
                           % (victim.name, victim.process.returncode))
    victim.kill()
    kill = Kill(move.moment, time.monotonic() - started)
    server = cloud.server(move.server)
    kill.status = server['status']
    kill.task_state = server.get('OS-EXT-STS:task_state')
    kill.migration_status = (latest_migration(cloud, move.server) or
                             {}).get('status')
    return kill


def left_behind(cloud, server):
    """What a kill left of the server's move, in one word.

    'running' (a migration Nova is still busy with, live or cold),
    'VERIFY_RESIZE' (a cold migration waiting for a confirm that
    nobody will send) or 'nothing'.
    """
    migration = latest_migration(cloud, server)
    status = migration and migration['status']
    if status in BUSY:
        return 'running'
    if status == 'finished' or \
            cloud.server(server)['status'] == 'VERIFY_RESIZE':
        return 'VERIFY_RESIZE'
    return 'nothing'
