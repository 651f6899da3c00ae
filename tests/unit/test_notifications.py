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

"""The listener of Nova's notifications, against a real RabbitMQ.

One private broker (tools/rabbitmq, the ``broker`` fixture of
tests/conftest.py) serves the whole session; Nova is played by an
oslo.messaging Notifier publishing Nova-shaped versioned notifications
as nova-compute does. Each test has its own pool (queue)
and server uuids, so tests do not see each other's messages. Waits are
on events, with generous bounds.
"""

import datetime
import logging
import socket
import subprocess
import threading
import time
import types
import uuid

import pytest

from tests import broker as private_broker

try:
    import oslo_messaging
except ImportError:
    if private_broker.in_ci():
        raise
    pytest.skip('oslo.messaging is not installed in this virtualenv '
                '(requirements.txt lists it: rebuild the venv)',
                allow_module_level=True)

from oslo_config import cfg  # noqa: E402

from watcher_migrate import context  # noqa: E402
from watcher_migrate import convergence  # noqa: E402
from watcher_migrate import end_prediction  # noqa: E402
from watcher_migrate import notification_source  # noqa: E402
from watcher_migrate import notifications  # noqa: E402
from watcher_migrate import nova_gateway  # noqa: E402
from watcher_migrate import options  # noqa: E402
from watcher_migrate import tracking  # noqa: E402
from watcher_migrate import waiting  # noqa: E402

TOPIC = 'versioned_notifications'
# Generous: a message takes milliseconds on loopback.
WAIT = 30.0
LOGGER = 'watcher_migrate.notifications'


@pytest.fixture(scope='session')
def broker_url(broker):
    """The URL of the session's RabbitMQ (tests/conftest.py)."""
    return broker.url


@pytest.fixture(scope='session')
def nova_transport(broker_url):
    """The notification transport of the Nova the tests play."""
    # As nova.rpc does: Nova's notifications go to exchange 'nova'.
    oslo_messaging.set_transport_defaults(control_exchange='nova')
    transport = oslo_messaging.get_notification_transport(
        cfg.ConfigOpts(), url=broker_url)
    yield transport
    transport.cleanup()


@pytest.fixture(scope='session')
def nova(nova_transport):
    """nova-compute on host1's notifier."""
    return oslo_messaging.Notifier(
        nova_transport, publisher_id='nova-compute:host1',
        driver='messagingv2', topics=[TOPIC], retry=0)


def payload(server_id, host='host1', node='node1', state='active',
            task_state='migrating', request_id='req-1', key='uuid',
            name='InstanceActionPayload'):
    return {'nova_object.name': name,
            'nova_object.data': {key: server_id, 'host': host,
                                 'node': node, 'state': state,
                                 'task_state': task_state,
                                 'request_id': request_id},
            'nova_object.version': '1.9',
            'nova_object.namespace': 'nova'}


def send_raw(transport, event_type, body, message_id=None, timestamp=None,
             priority='info'):
    """A notification whose id and time the test chooses.

    What the messagingv2 driver sends, through the same call: Notifier
    gives every message a new id and the current time.
    """
    message = {'message_id': message_id or str(uuid.uuid4()),
               'publisher_id': 'nova-compute:host1',
               'event_type': event_type, 'priority': priority.upper(),
               'payload': body,
               'timestamp': str(timestamp or datetime.datetime.utcnow())}
    transport._send_notification(
        oslo_messaging.Target(topic='%s.%s' % (TOPIC, priority)), {},
        message, version=2.0, retry=0)


def new_id():
    return str(uuid.uuid4())


def started(url, **kwargs):
    kwargs.setdefault('pool', 'watcher-migrate-test-' + new_id())
    listener = notifications.NotificationListener(
        url, conf=cfg.ConfigOpts(), **kwargs)
    assert listener.start()
    return listener


@pytest.fixture
def listener(broker_url):
    listener = started(broker_url)
    yield listener
    listener.stop()


class Collector(object):
    """A subscriber's events, and an Event set by each."""

    def __init__(self, listener, server_id, since=None):
        self.events = []
        self.wake = threading.Event()
        self._arrived = threading.Condition()
        moment = time.time() if since is None else since
        self.sub = listener.subscribe(server_id, lambda: moment,
                                      wake=self.wake, callback=self._take)

    def _take(self, event):
        with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    def wait_for(self, count):
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.events) >= count,
                                          WAIT), self.events
        return self.events


def closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- events reach their subscribers ----------------------------------------

def test_subscriber_is_woken_by_an_event_of_its_server(listener, nova):
    server = new_id()
    collector = Collector(listener, server)
    nova.info({}, 'instance.live_migration_pre.start', payload(server))
    assert collector.wake.wait(WAIT)


def test_event_carries_the_payload_fields(listener, nova):
    server = new_id()
    collector = Collector(listener, server)
    nova.info({}, 'instance.live_migration_post_dest.end',
              payload(server, host='host2', node='node2', task_state=None,
                      request_id='req-42'))
    [event] = collector.wait_for(1)
    assert (event.event_type, event.uuid, event.host, event.node,
            event.state, event.task_state, event.request_id,
            event.priority) == (
        'instance.live_migration_post_dest.end', server, 'host2', 'node2',
        'active', None, 'req-42', 'info')
    assert abs(event.timestamp - time.time()) < WAIT


def test_subscriber_is_not_woken_by_another_servers_event(listener, nova):
    ours, other = new_id(), new_id()
    collector = Collector(listener, ours)
    sentinel = Collector(listener, new_id())
    nova.info({}, 'instance.update', payload(other))
    # One handler thread: messages are handled in the order sent.
    nova.info({}, 'instance.update', payload(sentinel.sub.server_id))
    sentinel.wait_for(1)
    assert not collector.wake.is_set() and collector.events == []


def test_event_types_not_about_moves_are_ignored(listener, nova):
    server = new_id()
    collector = Collector(listener, server)
    nova.info({}, 'instance.power_off.start', payload(server))
    nova.info({}, 'instance.update', payload(server))
    assert [e.event_type for e in collector.wait_for(1)] == [
        'instance.update']


def test_conductor_error_names_the_server_by_instance_uuid(listener, nova):
    server = new_id()
    collector = Collector(listener, server)
    nova.error({}, 'compute_task.migrate_server.error',
               payload(server, key='instance_uuid',
                       name='ComputeTaskPayload'))
    [event] = collector.wait_for(1)
    assert (event.event_type, event.uuid, event.priority) == (
        'compute_task.migrate_server.error', server, 'error')


def test_duplicate_message_is_delivered_once(listener, nova_transport):
    server = new_id()
    collector = Collector(listener, server)
    message_id = new_id()
    send_raw(nova_transport, 'instance.live_migration_pre.start',
             payload(server), message_id=message_id)
    # More messages between than oslo.messaging's own memory of ids.
    for _ in range(20):
        send_raw(nova_transport, 'instance.update', payload(new_id()))
    send_raw(nova_transport, 'instance.live_migration_pre.start',
             payload(server), message_id=message_id)
    send_raw(nova_transport, 'instance.live_migration_pre.end',
             payload(server))
    collector.wait_for(2)
    assert [e.event_type for e in collector.events] == [
        'instance.live_migration_pre.start',
        'instance.live_migration_pre.end']


def test_counts_say_what_the_queue_brought(listener, nova_transport):
    server = new_id()
    collector = Collector(listener, server)
    message_id = new_id()
    send_raw(nova_transport, 'instance.live_migration_pre.start',
             payload(server), message_id=message_id)
    send_raw(nova_transport, 'instance.live_migration_pre.start',
             payload(server), message_id=message_id)
    send_raw(nova_transport, 'instance.update', payload(new_id()))
    send_raw(nova_transport, 'instance.create.end', payload(server))
    send_raw(nova_transport, 'instance.live_migration_pre.end',
             payload(server))
    # One handler thread: the last event's arrival follows the others'.
    collector.wait_for(2)
    assert listener.counts() == {'received': 5, 'events': 3,
                                 'duplicates': 1, 'delivered': 2}


def test_event_older_than_the_subscription_is_ignored(listener,
                                                      nova_transport):
    server = new_id()
    collector = Collector(listener, server)
    an_hour_ago = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
    send_raw(nova_transport, 'instance.live_migration_post_dest.end',
             payload(server, host='old'), timestamp=an_hour_ago)
    send_raw(nova_transport, 'instance.update', payload(server, host='new'))
    assert [e.host for e in collector.wait_for(1)] == ['new']


def test_each_subscriber_of_a_server_gets_the_event(listener, nova):
    server = new_id()
    first, second = Collector(listener, server), Collector(listener, server)
    nova.info({}, 'instance.update', payload(server))
    assert first.wake.wait(WAIT) and second.wake.wait(WAIT)


def test_unsubscribed_subscriber_is_not_woken(listener, nova):
    server = new_id()
    gone, staying = Collector(listener, server), Collector(listener, server)
    listener.unsubscribe(gone.sub)
    nova.info({}, 'instance.update', payload(server))
    staying.wait_for(1)
    assert gone.events == []


def test_first_event_of_a_move_is_noted_as_early(listener, nova):
    server = new_id()
    collector = Collector(listener, server)
    nova.info({}, 'instance.resize_prep.start', payload(server))
    collector.wait_for(1)
    assert collector.sub.early_seen


def test_later_events_alone_are_not_noted_as_early(listener, nova):
    server = new_id()
    collector = Collector(listener, server)
    nova.info({}, 'instance.update', payload(server))
    nova.info({}, 'instance.live_migration_post.start', payload(server))
    collector.wait_for(2)
    assert not collector.sub.early_seen


# -- the queue ---------------------------------------------------------------

def queue_exists(url, name):
    import kombu
    from kombu import exceptions as kombu_exceptions
    with kombu.Connection(url.replace('rabbit://', 'amqp://', 1)) as conn:
        try:
            conn.channel().queue_declare(queue=name, passive=True)
        except kombu_exceptions.ChannelError:
            return False
    return True


def test_started_listener_has_its_pool_queue_on_the_broker(broker_url):
    pool = 'watcher-migrate-test-' + new_id()
    listener = started(broker_url, pool=pool)
    try:
        assert queue_exists(broker_url, pool)
    finally:
        listener.stop()


def test_listener_with_another_pool_gets_the_same_messages(broker_url, nova,
                                                           listener):
    # As Watcher's decision engine does, with its own pool.
    other = started(broker_url, pool='decision-engine-' + new_id())
    try:
        server = new_id()
        ours, theirs = Collector(listener, server), Collector(other, server)
        nova.info({}, 'instance.live_migration_post_dest.end',
                  payload(server))
        assert ours.wait_for(1) and theirs.wait_for(1)
    finally:
        other.stop()


def test_default_pool_is_unique_to_the_plugin_and_host():
    assert notifications.default_pool('compute-7') == \
        'watcher-migrate-compute-7'


def test_listener_without_pool_takes_the_default_pool():
    listener = notifications.NotificationListener('rabbit://h:5672/')
    assert listener.pool == notifications.default_pool()


# -- an unreachable bus --------------------------------------------------

@pytest.fixture
def unreachable():
    listener = notifications.NotificationListener(
        'rabbit://watcher:s3cr3t-pw@127.0.0.1:%d/' % closed_port(),
        conf=cfg.ConfigOpts(), start_timeout=1.0, pool='unreachable')
    yield listener
    listener.stop()


def test_start_on_an_unreachable_bus_fails_within_its_bound(unreachable):
    begun = time.monotonic()
    assert unreachable.start() is False
    assert time.monotonic() - begun < WAIT


def test_unreachable_bus_is_warned_once(unreachable, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    unreachable.start()
    unreachable.start()
    warnings = [r for r in caplog.records
                if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert 'polling alone' in warnings[0].getMessage()


def test_password_of_the_url_is_never_logged(unreachable, caplog):
    caplog.set_level(logging.DEBUG)
    unreachable.start()
    assert 'watcher:***@127.0.0.1' in caplog.text
    assert 's3cr3t-pw' not in caplog.text


def test_listening_is_logged_once_with_the_url_masked(broker_url, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    listener = started(broker_url)
    try:
        listener.start()
        [line] = [r.getMessage() for r in caplog.records
                  if r.name == LOGGER and r.levelno == logging.INFO]
    finally:
        listener.stop()
    assert 'Listening to Nova notifications on ' \
        + notifications.masked(broker_url) in line
    assert ':***@' in line


@pytest.fixture
def own_broker():
    """A broker of the test's own: (its URL, f() that stops it)."""
    with private_broker.running_broker() as running:
        yield running.url, lambda: subprocess.run(
            [private_broker.SCRIPT, 'stop', running.directory],
            capture_output=True, timeout=120)


def test_lost_bus_is_warned_once(own_broker, caplog):
    url, stop = own_broker
    listener = started(url)
    lost = threading.Event()
    patch = pytest.MonkeyPatch()
    plain_lost = listener.lost
    patch.setattr(listener, 'lost', lambda: (plain_lost(), lost.set()))
    # The consumer cannot end while the bus is down: do not wait long.
    patch.setattr(notifications, 'STOP_TIMEOUT', 0.5)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    try:
        begun = time.monotonic()
        stop()
        assert lost.wait(WAIT)
        # oslo.messaging goes on trying: every failure is a loss report.
        while len([r for r in caplog.records if r.name ==
                   notifications.RABBIT_LOGGER]) < 2 and \
                time.monotonic() - begun < WAIT:
            time.sleep(0.1)
    finally:
        listener.stop()
        patch.undo()
    warnings = [r.getMessage() for r in caplog.records
                if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'was lost' in warnings[0]
    assert listener.lost_since(begun)


def test_masked_hides_every_host_password():
    assert notifications.masked(
        'rabbit://a:pw1@h1:5672,b:pw2@h2:5672/vhost') == \
        'rabbit://a:***@h1:5672,b:***@h2:5672/vhost'


def test_source_on_an_unreachable_bus_says_nothing(unreachable):
    unreachable.start()
    source = notification_source.NotificationSource(
        unreachable, new_id(), threading.Event(), 'vm', since=time.time)
    assert (source.has_news(), source.look(), source.early_seen,
            source.broken) == (False, None, False, False)


# -- the source of the tracker ----------------------------------------------

def make_source(listener, server, wake=None):
    return notification_source.NotificationSource(
        listener, server, wake or threading.Event(), 'vm', since=time.time)


def test_source_sets_the_trackers_wake_on_an_event(listener, nova):
    server, wake = new_id(), threading.Event()
    make_source(listener, server, wake)
    nova.info({}, 'instance.update', payload(server, task_state=None))
    assert wake.wait(WAIT)


def test_source_has_news_after_an_event(listener, nova):
    server, wake = new_id(), threading.Event()
    source = make_source(listener, server, wake)
    nova.info({}, 'instance.update', payload(server, task_state=None))
    wake.wait(WAIT)
    assert source.has_news()


def test_source_look_hands_over_and_takes_the_news(listener, nova):
    server, wake = new_id(), threading.Event()
    source = make_source(listener, server, wake)
    nova.info({}, 'instance.update', payload(server, task_state=None))
    wake.wait(WAIT)
    assert source.look() is None
    assert not source.has_news() and not source.broken


def test_closed_source_is_not_woken(listener, nova):
    server, wake = new_id(), threading.Event()
    source = make_source(listener, server, wake)
    sentinel = Collector(listener, server)
    source.close()
    nova.info({}, 'instance.update', payload(server, task_state=None))
    sentinel.wait_for(1)
    assert not wake.is_set() and source.closed


# -- the process's listener ---------------------------------------------------

def settings(**values):
    return options.Settings(values)


def test_process_listens_only_when_a_transport_url_is_set():
    assert context.ProcessContext().notification_listener(settings()) is None


def test_process_starts_one_listener_for_all_its_actions(broker_url):
    process = context.ProcessContext()
    wanted = settings(notification_transport_url=broker_url,
                      notification_pool='watcher-migrate-test-' + new_id())
    try:
        first = process.notification_listener(wanted)
        assert first is not None and first.listening
        assert process.notification_listener(wanted) is first
    finally:
        process.stop_listening()


def test_process_counts_nothing_when_it_never_listened():
    assert context.ProcessContext().notification_counts() is None


def test_process_counts_are_its_listeners_counts(broker_url, nova):
    process = context.ProcessContext()
    wanted = settings(notification_transport_url=broker_url,
                      notification_pool='watcher-migrate-test-' + new_id())
    try:
        listener = process.notification_listener(wanted)
        server = new_id()
        collector = Collector(listener, server)
        nova.info({}, 'instance.live_migration_pre.start', payload(server))
        collector.wait_for(1)
        assert process.notification_counts() == listener.counts() == {
            'received': 1, 'events': 1, 'duplicates': 0, 'delivered': 1}
    finally:
        process.stop_listening()


def test_process_without_its_bus_goes_on_without_listener():
    process = context.ProcessContext()
    wanted = settings(
        notification_transport_url='rabbit://u:p@127.0.0.1:%d/'
        % closed_port())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(notifications, 'START_TIMEOUT', 1.0)
            assert process.notification_listener(wanted) is None
    finally:
        process.stop_listening()


# -- what wakes an action, and the schedule while heard -----------------------

@pytest.mark.parametrize('event_type, task_state, priority, wakes', [
    ('instance.update', None, 'info', True),
    ('instance.update', 'migrating', 'info', False),
    ('instance.live_migration_pre.start', 'migrating', 'info', False),
    ('instance.live_migration_post.end', None, 'info', False),
    ('instance.live_migration_post_dest.end', None, 'info', True),
    ('instance.live_migration_rollback.end', None, 'info', True),
    ('instance.resize_finish.end', None, 'info', True),
    ('instance.resize_prep.end', 'resize_prep', 'info', False),
    ('compute_task.migrate_server.error', None, 'error', True),
])
def test_only_events_that_may_end_a_step_are_decisive(
        event_type, task_state, priority, wakes):
    event = notifications.NotificationEvent(
        event_type=event_type, uuid='u', task_state=task_state,
        priority=priority)
    assert notification_source.decisive(event) is wakes


# -- which landings are believed without a read -------------------------------

OURS = 'req-ours'


def landing_event(**fields):
    """Our request's landing on host2 as Nova tells it; but ``fields``."""
    values = dict(event_type='instance.update', uuid='u', host='host2',
                  state='active', task_state=None, request_id=OURS)
    values.update(fields)
    return notifications.NotificationEvent(**values)


def test_the_landing_of_our_request_is_believed_as_the_server():
    server = notification_source.believed(landing_event(), OURS, 'host1')
    assert (server.id, server.host, server.status, server.task_state) == \
        ('u', 'host2', 'ACTIVE', None)


def test_a_cold_landing_of_our_request_is_believed_in_verify_resize():
    server = notification_source.believed(
        landing_event(event_type='instance.resize_finish.end',
                      state='resized'), OURS, 'host1', 'host2')
    assert server.status == 'VERIFY_RESIZE'


def test_a_stopped_server_confirmed_on_the_destination_is_believed_shutoff():
    # A cold move of a stopped server ends stopped after its confirm.
    server = notification_source.believed(
        landing_event(event_type='instance.resize_confirm.end',
                      state='stopped'), OURS, 'host1', 'host2')
    assert server.status == 'SHUTOFF'


@pytest.mark.parametrize('why, event, request_id, destination', [
    ('another request: an earlier move, or a message made without it',
     landing_event(request_id='req-other'), OURS, None),
    ('Nova gave our request no id we know', landing_event(), None, None),
    ('still busy', landing_event(task_state='migrating'), OURS, None),
    ('back on the source: a failure, which a read confirms',
     landing_event(host='host1'), OURS, None),
    ('on a host that is not the one asked for', landing_event(host='host3'),
     OURS, 'host2'),
    ('in a state no landing leaves', landing_event(state='error'), OURS,
     None),
    ('an error', landing_event(priority='error'), OURS, None),
])
def test_no_other_event_is_believed(why, event, request_id, destination):
    assert notification_source.believed(
        event, request_id, 'host1', destination) is None, why


class _Listener(object):
    """A started listener, as a source sees it: its callback is the test's."""

    listening = True
    moves_heard = None

    def subscribe(self, server_id, since, callback=None, on_lost=None):
        self.deliver = callback
        return types.SimpleNamespace(early_seen=True, last=None)

    def lost_since(self, at):
        return False

    def unsubscribe(self, sub):
        pass


def test_a_decisive_event_without_a_request_id_is_news():
    # The conductor's compute_task.migrate_server.error names none.
    listener = _Listener()
    source = notification_source.NotificationSource(
        listener, 'u', threading.Event(), 'u', since=time.time)
    listener.deliver(notifications.NotificationEvent(
        event_type='compute_task.migrate_server.error', uuid='u',
        priority='error'))
    assert source.has_news()


def believing_source():
    """A source whose landing by our request was believed; its listener."""
    listener = _Listener()
    source = notification_source.NotificationSource(
        listener, 'u', threading.Event(), 'u', since=time.time)
    source.own_request(OURS)
    listener.deliver(landing_event())
    assert source.landing('host1') is not None
    source.look()
    return source, listener


def test_the_later_events_of_a_believed_landing_are_no_news():
    source, listener = believing_source()
    listener.deliver(landing_event(
        event_type='instance.live_migration_post_dest.end'))
    assert not source.has_news()


def test_the_events_of_our_next_request_are_news():
    # The confirm of a cold move, after its VERIFY_RESIZE was believed.
    source, listener = believing_source()
    source.own_request('req-confirm')
    listener.deliver(landing_event(event_type='instance.resize_confirm.end',
                                   request_id='req-confirm'))
    assert source.has_news()
    assert source.landing('host1').status == 'ACTIVE'


class _Inner(object):
    urgent = late = True
    watch = None
    floor = 0.2
    wall = time.time

    def next_delay(self, look):
        return 0.5

    def wants_figures(self):
        return True


def test_a_heard_move_waits_a_check_interval_and_reads_no_figures():
    notices = types.SimpleNamespace(hearing=True)
    schedule = notification_source.HeardSchedule(_Inner(), notices, 20.0)
    assert schedule.next_delay(None) == 20.0
    assert not schedule.wants_figures()
    assert not schedule.urgent and not schedule.late


def test_an_unheard_move_keeps_its_own_schedule():
    notices = types.SimpleNamespace(hearing=False,
                                    note_silence=lambda look: None)
    schedule = notification_source.HeardSchedule(_Inner(), notices, 20.0)
    assert schedule.next_delay(None) == 0.5
    assert schedule.wants_figures() and schedule.urgent


def heard_live(window=120.0, interval=10.0, news=False, deadline=None):
    """A heard live schedule on a wall clock of the test's; its parts."""
    clock = types.SimpleNamespace(now=1800000000.0)
    predictor = end_prediction.EndPredictor()
    watch = convergence.ConvergenceWatch(
        window, deadline=None if deadline is None else clock.now + deadline,
        predictor=predictor)
    inner = end_prediction.LiveSchedule(
        0.2, 5.0, wall=lambda: clock.now, predictor=predictor, watch=watch)
    notices = types.SimpleNamespace(hearing=True, has_news=lambda: news)
    return notification_source.HeardSchedule(inner, notices, interval), \
        watch, clock


def copying(schedule, watch, at, status='running', remaining=4 << 30):
    """The figures of a copy read at ``at``: 4 GiB of 8 left."""
    stamp = datetime.datetime.fromtimestamp(
        at, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')
    record = nova_gateway.MigrationView(
        id=7, status=status, memory_total_bytes=8 << 30,
        memory_processed_bytes=(8 << 30) - remaining,
        memory_remaining_bytes=remaining, updated_at=stamp)
    schedule.predictor.add(record, at)
    watch.add(record, at)


def test_a_heard_cold_move_waits_a_check_interval():
    # A cold move's schedule is a plain backoff, with no stall watch.
    notices = types.SimpleNamespace(hearing=True, has_news=lambda: False)
    schedule = notification_source.HeardSchedule(
        waiting.PollSchedule(0.2, 5.0), notices, 10.0)
    assert schedule.next_delay(None) == 10.0
    assert not schedule.wants_figures()


def test_a_heard_copy_is_first_read_at_the_first_server_check():
    schedule, _watch, clock = heard_live()
    assert schedule.next_delay(None) == 10.0
    clock.now += 9.0
    assert not schedule.wants_figures() and not schedule.stall_check_due()
    clock.now += 1.0
    assert schedule.wants_figures() and schedule.stall_check_due()


def test_a_heard_copy_is_read_again_at_its_stall_window_end():
    schedule, watch, clock = heard_live()
    schedule.next_delay(None)
    clock.now += 10.0
    copying(schedule, watch, clock.now)
    assert schedule.next_delay(None) == 10.0
    assert not schedule.stall_check_due()
    clock.now += 115.0
    assert schedule.next_delay(None) == pytest.approx(5.0)
    clock.now += 5.0
    assert schedule.stall_check_due()


def test_a_heard_copy_too_slow_for_its_deadline_reads_its_next_figure():
    schedule, watch, clock = heard_live(deadline=30.0)
    schedule.next_delay(None)
    clock.now += 10.25     # a stamp with a fraction: Nova's is precise
    copying(schedule, watch, clock.now, remaining=4 << 30)
    clock.now += 5.0
    # 100 MiB in 5 s: the 3.9 GiB left take 200 s, past the deadline.
    copying(schedule, watch, clock.now, remaining=(4 << 30) - (100 << 20))
    # Nova's next figure, 5 s on and up to 0.5 s late, may confirm it.
    assert schedule.next_delay(None) == pytest.approx(5.5)
    clock.now += 5.5
    assert schedule.stall_check_due() and schedule.wants_figures()


def test_a_heard_copy_not_yet_begun_is_tried_again_a_check_later():
    schedule, watch, clock = heard_live()
    schedule.next_delay(None)
    clock.now += 10.0
    copying(schedule, watch, clock.now, status='preparing')
    assert schedule.next_delay(None) == 10.0
    assert not schedule.stall_check_due()
    clock.now += 10.0
    assert schedule.stall_check_due()


def test_a_heard_copy_with_a_stall_window_of_0_is_never_read():
    schedule, _watch, clock = heard_live(window=0)
    schedule.next_delay(None)
    clock.now += 600.0
    assert not schedule.wants_figures() and not schedule.stall_check_due()


def test_news_of_a_heard_move_comes_before_its_stall_reading():
    schedule, _watch, clock = heard_live(news=True)
    schedule.next_delay(None)
    clock.now += 10.0
    assert not schedule.stall_check_due()


# -- a move Nova sends nothing of ---------------------------------------------

def _silent_source():
    # Not started: no bus is needed to judge a look.
    listener = notifications.NotificationListener('rabbit://h:5672/')
    listener.listening = True
    source = notification_source.NotificationSource(
        listener, 'server-1', threading.Event(), 'server-1',
        since=time.time)
    return listener, source


def _cold_look(task_state):
    server = nova_gateway.ServerView(
        id='server-1', name='server-1', status='ACTIVE',
        task_state=task_state, host='host1')
    return tracking.Look(server=server)


def test_a_cold_move_shown_under_way_unheard_of_is_said_once(caplog):
    # A cold move's looks read the server alone, never its record.
    listener, source = _silent_source()
    with caplog.at_level(logging.WARNING):
        source.note_silence(_cold_look('resize_migrating'))
        source.note_silence(_cold_look('resize_finish'))
    silent = [r for r in caplog.records
              if 'sent no notification' in r.getMessage()]
    assert len(silent) == 1
    assert listener.moves_heard is False


def test_the_first_move_of_a_process_expects_its_events():
    # No move has told yet: the configured bus is trusted.
    _listener, source = _silent_source()
    assert source.expected


def test_once_a_move_went_unheard_the_next_is_not_expected_to_be_heard():
    _listener, source = _silent_source()
    source.note_silence(_cold_look('resize_migrating'))
    assert not source.expected


def test_a_move_that_ended_unheard_of_is_said_once(caplog):
    # Followed from its start as heard, then found landed by a look.
    _listener, source = _silent_source()
    with caplog.at_level(logging.WARNING):
        source.note_end()
        source.note_end()
    said = [r for r in caplog.records if 'ended its migration but sent no '
            'notification' in r.getMessage()]
    assert len(said) == 1
    assert not source.expected


def test_a_cold_move_just_accepted_is_not_yet_taken_for_silence(caplog):
    # The API sets resize_prep before Nova sends any event.
    listener, source = _silent_source()
    with caplog.at_level(logging.WARNING):
        source.note_silence(_cold_look('resize_prep'))
    assert 'sent no notification' not in caplog.text
    assert listener.moves_heard is None


def test_a_lost_bus_wakes_the_moves_it_was_heard_for():
    # Heard, a move sleeps a server check interval between looks: it must
    # not wait that long to poll again.
    listener, source = _silent_source()
    wake = threading.Event()
    other = notification_source.NotificationSource(
        listener, 'server-2', wake, 'server-2', since=time.time)
    listener.lost()
    assert wake.is_set()
    assert not other.hearing and not source.hearing
