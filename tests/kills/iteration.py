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

"""One kill: arrange a move, start its victim, kill it, restart, read Nova.

``one_kill`` is the iteration tests/kills/test_kills.py repeats; each
gets a directory of its own for its config, journal and logs.
"""

import logging

from embedded_nova import client as embedded_client
from tests import embedded_cloud
from tests.kills import check
from tests.kills import moments
from tests.kills import tally
from tests.kills import tidy
from tests.kills import victims

RESTARTS = {victims.CLI: (tally.RECOVER_CLI,),
            victims.APPLIER: (tally.NEW_APPLIER, tally.RECOVER_CLI)}
# Boots of a server before the iteration gives up: the one-process Nova's
# sqlite now and then fails a boot's write ("database is locked" in the
# conductor), leaving the server in BUILD for ever, before any kill.
BOOT_TRIES = 3

LOG = logging.getLogger(__name__)


def boot(cloud, host):
    """A new ACTIVE server on ``host``; a boot Nova lost is tried again."""
    for attempt in range(1, BOOT_TRIES + 1):
        uuid = cloud.create_server(host, wait=False)
        try:
            cloud.wait_for_server(uuid, 'ACTIVE', host=host, timeout=120)
            return uuid
        except embedded_client.EmbeddedNovaError as e:
            if attempt == BOOT_TRIES:
                raise
            LOG.warning('boot %d of a server on %s failed (%s); booting '
                        'another', attempt, host, e)
            cloud.compute('DELETE', '/servers/%s' % uuid)


def _restart(cloud, watcher, kind, directory, config, rng, iteration):
    """Restart after the kill; its log, and a bystander server or None.

    A new applier's fresh plan moves a bystander server of its own (a
    quick live migration), which must succeed whatever recovery found;
    the bystander is returned for the tidy-up.
    """
    if kind == tally.RECOVER_CLI:
        iteration.restart_code, log = victims.recover_cli(cloud, directory,
                                                          config)
        return log, None
    source, destination = rng.sample(embedded_cloud.HOSTS, 2)
    bystander = boot(cloud, source)
    step = moments.Move(bystander, moments.LIVE_COPY, source,
                        destination).step()
    iteration.restart_code, log, plan = victims.restart_applier(
        watcher, directory, config, step)
    fresh = watcher.outcome(plan)
    if fresh.state != 'SUCCEEDED':
        iteration.violations.append('the new applier\'s fresh plan ended '
                                    '%r' % fresh)
    return log, bystander


def one_kill(cloud, watcher, victim, moment, rng, directory, number,
             recover=True):
    """Kill ``victim`` at ``moment`` of a move; the Iteration it gave.

    :param watcher: the embedded_watcher Deployment (applier victims)
    :param number: the iteration's number, which picks the restart kind
        in turn among those the victim has
    :param recover: restart after the kill (False: read Nova as the
        kill left it, to see what recovery has to do)
    """
    source, destination = rng.sample(embedded_cloud.HOSTS, 2)
    server = boot(cloud, source)
    move = moments.arrange(cloud, server, moment, source, destination, rng)
    plan = None
    if victim == victims.CLI:
        config = victims.cli_config(directory, move.live_timeout)
        process = victims.start_cli(cloud, directory, move, config)
    else:
        config = victims.applier_config(watcher, directory,
                                        move.live_timeout)
        process, plan = victims.start_applier(watcher, directory, move,
                                              config)
    bystander = None
    try:
        kill = moments.kill_at(cloud, move, process, rng)
        iteration = tally.Iteration(victim, moment, kill,
                                    moments.left_behind(cloud, server))
        log = ''
        if recover:
            kinds = RESTARTS[victim]
            iteration.restart = kinds[number % len(kinds)]
            log, bystander = _restart(cloud, watcher, iteration.restart,
                                      directory, config, rng, iteration)
            if iteration.restart_code != 0:
                iteration.violations.append(
                    '%s exited with %s: %s' % (
                        iteration.restart, iteration.restart_code,
                        log.strip()[-500:]))
        iteration.said = check.recovery_said(log, server)
        found = check.settled_nova_violations(cloud, move)
        iteration.left_after = bool(found)
        iteration.violations += found + check.log_violations(
            cloud, move, iteration.said, iteration.left)
        if plan is not None:
            killed = watcher.outcome(plan)
            iteration.plan_state = '%s/%s' % (killed.state,
                                              killed.action_states[0])
    finally:
        if process.alive:
            process.kill()
        tidy.tidy(cloud, server)
        if bystander is not None:
            tidy.tidy(cloud, bystander)
    return iteration
