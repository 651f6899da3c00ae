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

"""Compute API faults at each moment of a migration: the promise holds.

Every action authenticates through the fault proxy, so all its compute
traffic goes through it. A fault is put at one moment (before the move
request, on it, during the wait, on the confirm, on the abort); the
action must survive it when it is transient, and in every case keep the
promise checked by ``invariants.assert_invariants``.
"""

import time

import pytest

from tests.faults import fault_proxy as fp
from tests.faults import harness
from tests.faults import invariants

LIVE, COLD = harness.LIVE, harness.COLD

# A client timeout short enough for TIMEOUT faults to bite quickly.
CLIENT_TIMEOUT = 2
HOLD = CLIENT_TIMEOUT + 1.5

# name -> (kind, rule options, action options)
FAULTS = {
    'refused': (fp.REFUSED, {'seconds': 2.0}, {}),
    'reset-before-forwarding': (fp.RESET, {}, {}),
    'reset-after-forwarding': (fp.RESET, {'forward': True}, {}),
    'timeout-before-forwarding': (fp.TIMEOUT, {'seconds': HOLD},
                                  {'timeout': CLIENT_TIMEOUT}),
    'timeout-after-forwarding': (fp.TIMEOUT,
                                 {'seconds': HOLD, 'forward': True},
                                 {'timeout': CLIENT_TIMEOUT}),
    'slow-answer': (fp.SLOW, {'seconds': 1.5}, {}),
    '500-not-forwarded': (fp.HTTP_ERROR, {'status': 500}, {}),
    '500-after-forwarding': (fp.HTTP_ERROR,
                             {'status': 500, 'forward': True}, {}),
    '502-after-forwarding': (fp.HTTP_ERROR,
                             {'status': 502, 'forward': True}, {}),
    '503-not-forwarded': (fp.HTTP_ERROR, {'status': 503}, {}),
    '503-after-forwarding': (fp.HTTP_ERROR,
                             {'status': 503, 'forward': True}, {}),
    '409-conflict': (fp.CONFLICT, {}, {}),
    '401-once': (fp.UNAUTHORIZED, {}, {}),
    'truncated-answer': (fp.TRUNCATED, {}, {}),
    'not-json-answer': (fp.NOT_JSON, {}, {}),
}


def params(*cases):
    """pytest params of (fault name, migration type[, marks])."""
    return [pytest.param(case[0], case[1], marks=case[2:],
                         id='%s-%s' % (case[0], case[1]))
            for case in cases]


def inject(proxy, moment, name, server, migration_type, **rule_options):
    kind, options, _action_options = FAULTS[name]
    options = dict(options, **rule_options)
    return proxy.add(harness.rule_at(moment, kind, server.id,
                                     migration_type, **options))


def action_options(name, **overrides):
    options = dict(FAULTS[name][2])
    options.update(overrides)
    return options


def migrate(cloud, proxy, server, migration_type, **options):
    """Move ``server`` to the next host, authenticating through proxy."""
    return harness.migrate_server(
        cloud, harness.config(cloud, through=proxy, **options), server.id,
        server.host, harness.other_host(server.host),
        migration_type)


def moves(cloud, run):
    return harness.nova_requests(cloud).moves(
        run.server, run.started, run.ended, run.migration_type)


def assert_moved_once(cloud, run, rule):
    """Kept the promise, succeeded, Nova got one move; fault injected."""
    assert rule.hits >= 1, 'the fault was never injected: %r' % rule
    invariants.assert_invariants(cloud, run)
    assert run.succeeded, invariants.explain(
        cloud, run, ['failed although the fault was transient'])
    assert len(moves(cloud, run)) == 1


# -- before the move ---------------------------------------------------------

@pytest.mark.parametrize('name,migration_type', params(
    ('refused', LIVE), ('reset-before-forwarding', COLD),
    ('timeout-after-forwarding', LIVE), ('not-json-answer', COLD)))
def test_reads_before_the_move_are_retried_through(cloud, proxy, server,
                                                   name, migration_type):
    rule = inject(proxy, harness.BEFORE, name, server, migration_type)
    run = migrate(cloud, proxy, server, migration_type,
                  **action_options(name))
    assert_moved_once(cloud, run, rule)


# -- on the move request -----------------------------------------------------

@pytest.mark.parametrize('name,migration_type', params(
    ('refused', LIVE), ('reset-before-forwarding', LIVE),
    ('reset-after-forwarding', LIVE), ('timeout-before-forwarding', LIVE),
    ('timeout-after-forwarding', LIVE), ('slow-answer', LIVE),
    ('500-not-forwarded', LIVE), ('500-after-forwarding', LIVE),
    ('409-conflict', LIVE), ('401-once', LIVE), ('truncated-answer', LIVE),
    ('not-json-answer', LIVE),
    ('reset-after-forwarding', COLD), ('timeout-after-forwarding', COLD),
    ('503-not-forwarded', COLD), ('409-conflict', COLD)))
def test_the_move_reaches_nova_exactly_once_through(cloud, proxy, server,
                                                    name, migration_type):
    rule = inject(proxy, harness.MOVE, name, server, migration_type)
    run = migrate(cloud, proxy, server, migration_type,
                  **action_options(name))
    assert_moved_once(cloud, run, rule)


def test_a_move_reaching_nova_after_the_client_gave_up_is_not_repeated(
        cloud, proxy, server):
    proxy.add(harness.rule_at(harness.MOVE, fp.LATE, server.id, LIVE,
                              seconds=12.0))
    run = harness.migrate_server(
        cloud, harness.config(cloud, through=proxy, timeout=CLIENT_TIMEOUT),
        server.id, server.host, None, LIVE)
    proxy.wait_idle()
    # Whatever the late request started must be over to be judged.
    cloud.wait_for_server(server.id, 'ACTIVE')
    run.ended = time.time()
    invariants.assert_invariants(cloud, run)


# -- during the wait ---------------------------------------------------------

@pytest.mark.parametrize('name,migration_type', params(
    ('refused', LIVE), ('reset-after-forwarding', COLD),
    ('timeout-after-forwarding', LIVE), ('502-after-forwarding', COLD),
    ('401-once', LIVE), ('not-json-answer', COLD)))
def test_the_wait_follows_the_migration_through(cloud, proxy, server, name,
                                                migration_type):
    cloud.set_driver(instance=server.id, live_duration=2, cold_duration=1)
    # Repeated (a refusal already lasts): the wait must keep going.
    times = 1 if name in ('refused', '401-once') else 3
    rule = inject(proxy, harness.WAIT, name, server, migration_type,
                  times=times)
    run = migrate(cloud, proxy, server, migration_type,
                  **action_options(name))
    assert_moved_once(cloud, run, rule)


def test_an_outage_longer_than_the_retry_budget_does_not_lose_the_move(
        cloud, proxy, server):
    cloud.set_driver(instance=server.id, live_duration=3)
    rule = inject(proxy, harness.WAIT, 'refused', server, LIVE, seconds=5.0)
    run = migrate(cloud, proxy, server, LIVE, api_retry_timeout=2)
    assert_moved_once(cloud, run, rule)


def test_a_401_repeated_during_the_wait_does_not_abandon_the_migration(
        cloud, proxy, server):
    cloud.set_driver(instance=server.id, cold_duration=1)
    rule = inject(proxy, harness.WAIT, '401-once', server, COLD, times=2)
    run = migrate(cloud, proxy, server, COLD)
    assert_moved_once(cloud, run, rule)


# -- on the confirm ----------------------------------------------------------

@pytest.mark.parametrize('name', [
    'refused', 'reset-before-forwarding', 'reset-after-forwarding',
    'timeout-after-forwarding', '500-not-forwarded', '503-after-forwarding',
    '409-conflict', '401-once'])
def test_a_cold_migration_is_confirmed_through(cloud, proxy, server, name):
    rule = inject(proxy, harness.CONFIRM, name, server, COLD)
    run = migrate(cloud, proxy, server, COLD,
                  **action_options(name, settle_timeout=10))
    assert_moved_once(cloud, run, rule)
    assert cloud.migrations(server.id)[0]['status'] == 'confirmed'


# -- on the abort ------------------------------------------------------------

@pytest.mark.parametrize('name', [
    'refused', 'reset-before-forwarding', 'reset-after-forwarding',
    'timeout-after-forwarding', '500-not-forwarded', '409-conflict'])
def test_a_live_migration_past_its_timeout_is_aborted_through(
        cloud, proxy, server, name):
    cloud.set_driver(instance=server.id, live_duration=20)
    rule = inject(proxy, harness.ABORT, name, server, LIVE)
    run = migrate(cloud, proxy, server, LIVE,
                  **action_options(name, live_timeout=3, settle_timeout=10))
    invariants.assert_invariants(
        cloud, run,
        cause=r'did not finish within its \d+ s live_timeout and was aborted')
    assert rule.hits >= 1, 'the fault was never injected: %r' % rule
    assert cloud.migrations(server.id)[0]['status'] == 'cancelled'


def test_an_abort_lost_past_the_settle_timeout_is_named_then_stopped(
        cloud, proxy, server):
    cloud.set_driver(instance=server.id, live_duration=30)
    # One abort answered 500 unforwarded: the next is due after 5 s,
    # past settle_timeout, so it falls to post_condition.
    rule = inject(proxy, harness.ABORT, '500-not-forwarded', server, LIVE)
    run = migrate(cloud, proxy, server, LIVE, live_timeout=3,
                  settle_timeout=3)
    invariants.assert_invariants(
        cloud, run, cause=r"did not settle within its 3 s settle_timeout: "
                          r"migration \d+ is 'running'.*; "
                          r"the last abort request: .*500")
    assert rule.hits == 1
    assert cloud.migrations(server.id)[0]['status'] == 'cancelled'


# -- authentication, and faults that outlast the retry budget ----------------

def test_a_401_makes_keystoneauth_authenticate_again(cloud, proxy, server):
    rule = inject(proxy, harness.MOVE, '401-once', server, LIVE)
    run = migrate(cloud, proxy, server, LIVE)
    assert_moved_once(cloud, run, rule)
    assert len(proxy.token_requests()) == 2
    assert len(proxy.tokens) == 2


def test_an_api_unreachable_past_the_retry_budget_fails_before_moving(
        cloud, proxy, server):
    rule = inject(proxy, harness.BEFORE, 'refused', server, LIVE,
                  seconds=5.0)
    run = migrate(cloud, proxy, server, LIVE, api_retry_timeout=2)
    # The tries really made and the time they took (the last at 2 s).
    invariants.assert_invariants(
        cloud, run, cause=r'kept failing for 2 s \(\d+ tries in [23] s\)')
    # No try past the budget: the last one, at 2 s, is still refused.
    assert not run.succeeded, invariants.explain(
        cloud, run, ['succeeded by a try after the retry budget'])
    assert rule.hits == 1
    assert moves(cloud, run) == []


def test_a_read_that_hung_past_the_retry_budget_is_read_once_more(
        cloud, proxy, server):
    # The client gives up after 2 s, the whole budget: one more try.
    rule = inject(proxy, harness.BEFORE, 'timeout-after-forwarding', server,
                  LIVE)
    run = migrate(cloud, proxy, server, LIVE,
                  **action_options('timeout-after-forwarding',
                                   api_retry_timeout=CLIENT_TIMEOUT))
    assert_moved_once(cloud, run, rule)


def test_a_move_refused_with_409_past_the_retry_budget_fails_unmoved(
        cloud, proxy, server):
    rule = inject(proxy, harness.MOVE, '409-conflict', server, LIVE,
                  times=None)
    run = migrate(cloud, proxy, server, LIVE, api_retry_timeout=3)
    invariants.assert_invariants(cloud, run,
                                 cause=r'could not start .* 409')
    assert rule.hits >= 2
    assert moves(cloud, run) == []


def test_a_move_lost_on_every_attempt_fails_unmoved(cloud, proxy, server):
    rule = inject(proxy, harness.MOVE, 'reset-before-forwarding', server,
                  COLD, times=None)
    run = migrate(cloud, proxy, server, COLD, api_retry_timeout=2)
    invariants.assert_invariants(cloud, run,
                                 cause=r'could not start .* outcome unknown')
    assert rule.hits >= 1
    assert moves(cloud, run) == []
