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

"""Faults of the notification bus, with the real broker and the real Nova.

The action listens to Nova's versioned notifications on a real RabbitMQ
(``restartable_broker``): the broker is down before the move or goes
down in the middle of it, Nova sends nothing, or the bus carries what
Nova would never send of this move (crafted with oslo.messaging's
Notifier: another server's events, an earlier migration's, copies,
events before their time). Whatever the bus says, the answer must be
what Nova did, every invariant of the fault suite must hold
(invariants.py), and the plugin says once why it polls.
"""

import contextlib
import logging
import socket
import time
import uuid

import pytest

from tests import broker as private_broker
from tests.faults import conftest
from tests.faults import crafted_notifications as crafted
from tests.faults import fault_proxy
from tests.faults import harness
from tests.faults import invariants
from tests.faults import test_nova_faults
from watcher_migrate import context

LIVE, COLD = harness.LIVE, harness.COLD
PUBLISHING_HOSTS = conftest.PUBLISHING_HOSTS

# What the plugin logs, once each, when it cannot count on the bus.
UNREACHABLE = 'cannot be reached within'
LOST = 'was lost; migrations are followed by polling'
SILENT = 'sent no notification of it'
AGAIN = 'Receiving Nova notifications again'

# Bounds of the waits for Nova and the broker: generous, a busy machine
# runs two embedded Novas and the broker.
NOVA_WAIT = 180
RESULT_WAIT = 600
# How long the move request is held by the proxy while the test sends
# crafted events: Nova has not seen the move meanwhile.
HOLD = 3.0
# Older than the request by far more than the clock slack allowed.
EARLIER = 600.0


@pytest.fixture
def process():
    """A process context of the test's own, with a queue of its own."""
    own = context.ProcessContext()
    own.pool = 'watcher-migrate-test-%s' % uuid.uuid4().hex
    yield own
    own.stop_listening()


@pytest.fixture
def broker_back(restartable_broker):
    """The restartable broker, brought up again if a test left it down."""
    yield restartable_broker
    if not _answers(restartable_broker):
        private_broker.bring_up(restartable_broker)


def _answers(broker):
    try:
        private_broker.queues(broker)
        return True
    except AssertionError:
        return False


def heard_action(cloud, process, url, server, migration_type=LIVE,
                 hosts=PUBLISHING_HOSTS, through=None, **overrides):
    """An action on ``server`` listening on ``url``, in ``process``."""
    options = harness.config(cloud, through=through,
                             notification_transport_url=url,
                             notification_pool=process.pool, **overrides)
    migrate = harness.new_action(options, server.id, server.host,
                                 harness.other_host(server.host, hosts),
                                 migration_type)
    migrate.context = process
    return migrate


def run_heard(cloud, process, url, server, migration_type=LIVE, **kwargs):
    """Run ``heard_action`` as Watcher does; returns its Run."""
    status = cloud.server(server.id)['status']
    return harness.run_action(
        heard_action(cloud, process, url, server, migration_type, **kwargs),
        status_before=status)


def said(caplog, text):
    return [r.getMessage() for r in caplog.records
            if text in r.getMessage()]


def assert_said_once(caplog, text):
    lines = said(caplog, text)
    assert len(lines) == 1, (text, lines)


def assert_moved(cloud, run):
    """Every invariant holds, and the answer is Nova's: moved."""
    invariants.assert_invariants(cloud, run)
    assert run.succeeded, run.message


@contextlib.contextmanager
def broker_down(broker):
    """The broker's node down inside, up again on the way out."""
    private_broker.take_down(broker)
    try:
        yield
    finally:
        private_broker.bring_up(broker)


def closed_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def wait_for(what, check, timeout=NOVA_WAIT, interval=0.3):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, 'no %s within %s s' % (
            what, timeout)
        time.sleep(interval)


def copying(cloud, process, broker, server, seconds):
    """Start a live move of ``seconds`` in the background; its Future.

    Returned once Nova copies the server: its first events were sent.
    """
    cloud.set_driver(instance=server.id, live_duration=seconds)
    running = test_nova_faults.in_background(
        run_heard, cloud, process, broker.url, server)
    test_nova_faults.wait_for_migration(cloud, server.id, ('running',),
                                        NOVA_WAIT)
    return running


def landed(cloud, server, host):
    """Wait until Nova shows the server on ``host`` with no task."""
    cloud.wait_for_server(server.id, 'ACTIVE', host=host, timeout=NOVA_WAIT)


# -- the broker down before the move ----------------------------------------

def test_a_bus_on_a_closed_port_leaves_the_move_to_polling_saying_so_once(
        publishing_cloud, heard_server, process, caplog):
    url = 'rabbit://watcher:s3cr3t@127.0.0.1:%d/' % closed_port()
    publishing_cloud.set_driver(instance=heard_server.id, live_duration=2)
    with caplog.at_level(logging.INFO):
        run = run_heard(publishing_cloud, process, url, heard_server)
    assert_moved(publishing_cloud, run)
    assert_said_once(caplog, UNREACHABLE)
    assert not said(caplog, 's3cr3t')


def test_a_stopped_broker_leaves_the_move_to_polling_saying_so_once(
        publishing_cloud, broker_back, heard_server, process, caplog):
    publishing_cloud.set_driver(instance=heard_server.id, live_duration=2)
    with broker_down(broker_back), caplog.at_level(logging.INFO):
        run = run_heard(publishing_cloud, process, broker_back.url,
                        heard_server)
    assert_moved(publishing_cloud, run)
    assert_said_once(caplog, UNREACHABLE)


# -- the broker restarted in the middle of the move -------------------------

def test_a_landing_while_the_broker_is_down_is_found_by_polling(
        publishing_cloud, broker_back, heard_server, process, caplog):
    cloud, server = publishing_cloud, heard_server
    destination = harness.other_host(server.host, PUBLISHING_HOSTS)
    with caplog.at_level(logging.INFO):
        running = copying(cloud, process, broker_back, server, 8)
        with broker_down(broker_back):
            # Nova's landing events are lost: sent to no broker.
            landed(cloud, server, destination)
        run = running.result(RESULT_WAIT)
    assert_moved(cloud, run)
    assert_said_once(caplog, LOST)


def test_after_the_broker_is_killed_and_back_moves_are_heard_again(
        publishing_cloud, broker_back, heard_server, process, caplog):
    cloud, server = publishing_cloud, heard_server
    with caplog.at_level(logging.INFO):
        running = copying(cloud, process, broker_back, server, 15)
        # A crash, not an orderly stop: the node's queues die with it.
        private_broker.take_down(broker_back, kill=True)
        private_broker.bring_up(broker_back)
        first = running.result(RESULT_WAIT)
        assert_moved(cloud, first)
        # The listener declared its queue again, expiry included.
        wait_for('queue %s declared again' % process.pool,
                 lambda: process.pool in private_broker.queues(broker_back))
        queue = private_broker.queues(broker_back)[process.pool]
        assert 'x-expires' in queue['arguments'], queue
        back = harness.Server(server.id, cloud.server(server.id)[
            'OS-EXT-SRV-ATTR:host'])
        cloud.set_driver(instance=server.id, live_duration=2)
        second = run_heard(cloud, process, broker_back.url, back)
    assert_moved(cloud, second)
    assert_said_once(caplog, LOST)
    assert_said_once(caplog, AGAIN)


# -- Nova sends nothing -----------------------------------------------------

@pytest.mark.parametrize('migration_type', [LIVE, COLD])
def test_a_move_nova_sends_nothing_of_is_polled_saying_so_once(
        cloud, restartable_broker, server, process, caplog, migration_type):
    # The suite's own Nova publishes nothing; the plugin listens anyway.
    cloud.set_driver(instance=server.id, live_duration=3, cold_duration=3)
    with caplog.at_level(logging.INFO):
        run = run_heard(cloud, process, restartable_broker.url, server,
                        migration_type, hosts=harness.HOSTS)
    assert_moved(cloud, run)
    assert_said_once(caplog, SILENT)


# -- what Nova would not send of this move ----------------------------------

def _with_events_during_the_held_move(cloud, proxy, process, broker, server,
                                      events, stamped=None):
    """Run a move whose request the proxy holds while ``events`` are sent.

    Nova has not seen the move while they arrive: none is of it.
    """
    hold = proxy.add(harness.rule_at(harness.MOVE, fault_proxy.LATE,
                                     server.id, LIVE, seconds=HOLD))
    running = test_nova_faults.in_background(
        run_heard, cloud, process, broker.url, server, hosts=harness.HOSTS,
        through=proxy)
    wait_for('move request held', lambda: hold.hits == 1)
    with crafted.publisher(broker.url) as sender:
        sender.send(events, stamped=stamped)
    return running.result(RESULT_WAIT)


def test_another_servers_events_are_not_taken_for_the_moves_own(
        cloud, restartable_broker, proxy, server, process, caplog):
    # In a Nova that sends nothing of this move: had the action taken
    # them for its own, it would think it heard the move.
    other = str(uuid.uuid4())
    destination = harness.other_host(server.host)
    events = (crafted.live_success(other, server.host, destination)
              + crafted.live_failure(other, server.host))
    cloud.set_driver(instance=server.id, live_duration=3)
    with caplog.at_level(logging.INFO):
        run = _with_events_during_the_held_move(
            cloud, proxy, process, restartable_broker, server, events)
    assert_moved(cloud, run)
    assert_said_once(caplog, SILENT)


def test_an_earlier_migrations_events_of_the_server_are_ignored(
        cloud, restartable_broker, proxy, server, process, caplog):
    # The migration that brought the server here, and its failure, stamped
    # long before the request.
    earlier_source = harness.other_host(server.host)
    events = (crafted.live_success(server.id, earlier_source, server.host)
              + crafted.live_failure(server.id, earlier_source))
    cloud.set_driver(instance=server.id, live_duration=3)
    with caplog.at_level(logging.INFO):
        run = _with_events_during_the_held_move(
            cloud, proxy, process, restartable_broker, server, events,
            stamped=time.time() - EARLIER)
    assert_moved(cloud, run)
    assert_said_once(caplog, SILENT)


# -- copies, and events before their time -----------------------------------

def _with_events_mid_move(cloud, process, broker, server, migration_type,
                          events, statuses):
    """Run a move; send ``events`` once Nova's record has ``statuses``."""
    running = test_nova_faults.in_background(
        run_heard, cloud, process, broker.url, server, migration_type)
    test_nova_faults.wait_for_migration(cloud, server.id, statuses,
                                        NOVA_WAIT)
    with crafted.publisher(broker.url) as sender:
        sender.send(events)
    return running.result(RESULT_WAIT)


def test_a_landing_announced_twice_before_the_copy_ends_waits_for_nova(
        publishing_cloud, restartable_broker, heard_server, process):
    cloud, server = publishing_cloud, heard_server
    destination = harness.other_host(server.host, PUBLISHING_HOSTS)
    success = crafted.live_success(server.id, server.host, destination)
    landing, first_events = success[3:], success[:2]
    # Twice each, and the first events of the move after its end.
    events = landing + landing + first_events + first_events
    cloud.set_driver(instance=server.id, live_duration=8)
    run = _with_events_mid_move(cloud, process, restartable_broker, server,
                                LIVE, events, ('running',))
    # Answered at the announced landing, the action would have said
    # success while Nova still copied: the invariants read Nova at once.
    assert_moved(cloud, run)


def test_a_failure_announced_twice_mid_copy_does_not_fail_the_move(
        publishing_cloud, restartable_broker, heard_server, process):
    cloud, server = publishing_cloud, heard_server
    failure = crafted.live_failure(server.id, server.host)
    cloud.set_driver(instance=server.id, live_duration=8)
    run = _with_events_mid_move(cloud, process, restartable_broker, server,
                                LIVE, failure + failure, ('running',))
    # Nova moved it: any failure answer, or a stop, would be untrue.
    assert_moved(cloud, run)


def test_a_cold_landing_and_confirm_announced_early_wait_for_nova(
        publishing_cloud, restartable_broker, heard_server, process):
    cloud, server = publishing_cloud, heard_server
    destination = harness.other_host(server.host, PUBLISHING_HOSTS)
    claims = crafted.cold_success(server.id, destination)
    first = [('info', 'instance.resize_prep.start',
              crafted.instance_payload(server.id, destination,
                                       'resize_prep'))]
    cloud.set_driver(instance=server.id, cold_duration=8)
    run = _with_events_mid_move(cloud, process, restartable_broker, server,
                                COLD, claims + claims + first,
                                ('migrating', 'post-migrating'))
    assert_moved(cloud, run)
