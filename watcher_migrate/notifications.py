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

"""Nova's versioned notifications, heard once per process.

Nova tells its message bus when a migration passes each step (see
``EVENT_PREFIXES``). One ``NotificationListener`` per process consumes
them from its own queue (the pool: Watcher's decision engine and any
other consumer keep their own copy) and hands each event about a
subscribed server to its subscriptions, which wake their action at once
instead of at its next poll.

A notification mostly says "look now": it can be lost (Nova drops what
it fails to send, a broker restart drops the queue), duplicated or out
of order, so the action confirms with a read and polls as before; only
the landing of its own request is taken at Nova's word
(``notification_source.believed``).
With no transport URL, or a bus that cannot be reached, nothing changes.
"""

import collections
import dataclasses
import datetime
import logging
import re
import socket
import threading
import time

from oslo_config import cfg
from oslo_log import log
import oslo_messaging

from watcher_migrate import tuning

LOG = log.getLogger(__name__)

# The events that tell of a move's steps. compute_task.* comes from the
# conductor (priority ERROR) and names the server instance_uuid.
EVENT_PREFIXES = (
    'instance.update',
    'instance.live_migration_',
    'instance.resize_prep.',
    'instance.resize.',
    'instance.resize_finish.',
    'instance.resize_confirm.',
    'instance.resize_revert.',
    'compute_task.migrate_server.error',
)
# The first events of a move: a move seen under way without one of them
# suggests Nova sends no notifications (nothing in its API says so).
EARLY_PREFIXES = ('instance.live_migration_pre.', 'instance.resize_prep.')

# How long start() waits for the queue to exist. oslo.messaging's
# listening connection retries for ever: the bound is ours.
START_TIMEOUT = 5.0
# Message ids remembered to drop redeliveries (oslo.messaging keeps 16).
SEEN_IDS = 1024
# How long stop() waits for the consumer to end: while the bus is down,
# oslo.messaging ends it only once it has reconnected.
STOP_TIMEOUT = 5.0
# Default of notification_queue_expiry (options.py says why).
QUEUE_EXPIRY = 600
# The logger (named by oslo.log) of oslo.messaging's RabbitMQ driver,
# which reports each failed (re)connection with the broker's host and
# port; nothing public says the bus was lost.
RABBIT_LOGGER = 'oslo.messaging._drivers.impl_rabbit'


def expire_queue(transport, queue, seconds):
    """Have the broker delete ``queue`` and its old messages in time.

    oslo.messaging declares a notification pool's queue with no
    arguments (unlike its reply and fanout queues, which get
    ``rabbit_transient_queues_ttl``): it would stay and fill for ever once
    nothing consumes it. So the connections of this listener's own
    transport declare it with ``x-expires`` and ``x-message-ttl``, at
    each (re)connection, as oslo.messaging declares it.

    :returns: False if the transport is not oslo.messaging's RabbitMQ
        driver as known (the queue then has no expiry)
    """
    from oslo_messaging._drivers import impl_rabbit
    connections = getattr(getattr(transport, '_driver', None),
                          '_connection_pool', None)
    base = getattr(connections, 'connection_cls', None)
    if not (isinstance(base, type) and
            issubclass(base, impl_rabbit.Connection)):
        return False
    millis = int(seconds * 1000)

    class ExpiringQueueConnection(base):
        def declare_consumer(self, consumer):
            if getattr(consumer, 'queue_name', None) == queue:
                consumer.queue_arguments = dict(
                    consumer.queue_arguments or {},
                    **{'x-expires': millis, 'x-message-ttl': millis})
            return super(ExpiringQueueConnection,
                         self).declare_consumer(consumer)

    connections.connection_cls = ExpiringQueueConnection
    return True


def default_pool(hostname=None):
    """The queue of this plugin on this host: ``watcher-migrate-<host>``."""
    return 'watcher-migrate-%s' % (hostname or socket.gethostname())


def masked(url):
    """The transport URL with every password replaced by ``***``."""
    return re.sub(r'(//|,)([^:@/,]*):[^@/,]*@', r'\1\2:***@', url)


@dataclasses.dataclass(frozen=True)
class NotificationEvent:
    """One of Nova's notifications about one server.

    ``timestamp`` is Nova's wall time of the event (None if unreadable),
    ``priority`` 'info' or 'error'.
    """

    event_type: str
    uuid: str
    host: str = None
    node: str = None
    state: str = None
    task_state: str = None
    request_id: str = None
    timestamp: float = None
    priority: str = 'info'

    @property
    def early(self):
        """Whether it is one of the first events of a move."""
        return self.event_type.startswith(EARLY_PREFIXES)


def _nova_timestamp(text):
    # oslo.messaging writes str(utcnow()): naive UTC, microseconds
    # omitted when zero.
    try:
        moment = datetime.datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def event_from(priority, event_type, payload, metadata):
    """The event a notification tells, or None if it is not one of ours."""
    if not isinstance(event_type, str) or \
            not event_type.startswith(EVENT_PREFIXES):
        return None
    data = payload.get('nova_object.data') if isinstance(payload, dict) \
        else None
    if not isinstance(data, dict):
        return None
    uuid = data.get('uuid') or data.get('instance_uuid')
    if not uuid:
        return None
    return NotificationEvent(
        event_type=event_type, uuid=uuid, host=data.get('host'),
        node=data.get('node'), state=data.get('state'),
        task_state=data.get('task_state'),
        request_id=data.get('request_id'),
        timestamp=_nova_timestamp((metadata or {}).get('timestamp')),
        priority=priority)


class Subscription(object):
    """One action's interest in one server's events.

    :param since: ``f()`` -> the wall time the move began: events Nova
        stamped earlier (beyond clock slack) are of an earlier move
    :param wake: a ``threading.Event`` set on each event, or None
    :param callback: ``f(event)`` called on each event, or None
    :param on_lost: ``f()`` called when the bus is lost, or None
    """

    def __init__(self, server_id, since, wake=None, callback=None,
                 on_lost=None):
        self.server_id = server_id
        self._since = since
        self._wake = wake
        self._callback = callback
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self.last = None
        # Whether any of the first events of a move arrived.
        self.early_seen = False

    def deliver(self, event):
        """Take in one event of the server (called by the listener)."""
        if event.timestamp is not None and \
                event.timestamp < self._since() - tuning.CLOCK_SLACK:
            return
        with self._lock:
            self.last = event
            self.early_seen = self.early_seen or event.early
        if self._wake is not None:
            self._wake.set()
        if self._callback is not None:
            self._callback(event)

    def bus_lost(self):
        """The bus was lost (called by the listener)."""
        if self._on_lost is not None:
            self._on_lost()


class _Endpoint(object):
    """What oslo.messaging dispatches to, by priority method name."""

    def __init__(self, listener):
        self._listener = listener

    # oslo.messaging passes (ctxt, publisher_id, event_type, payload,
    # metadata) positionally; the first two say nothing of the server.
    def info(self, _ctxt, _publisher_id, event_type, payload, metadata):
        self._listener.handle('info', event_type, payload, metadata)

    def error(self, _ctxt, _publisher_id, event_type, payload, metadata):
        self._listener.handle('error', event_type, payload, metadata)


class _BusWatch(logging.Handler):
    """Tells the listener when oslo.messaging fails to reach our broker."""

    def __init__(self, listener, hosts):
        super(_BusWatch, self).__init__(logging.ERROR)
        self._listener = listener
        self._hosts = hosts

    def emit(self, record):
        args = record.args
        if isinstance(args, dict) and \
                (args.get('hostname'), args.get('port')) in self._hosts:
            self._listener.lost()


class NotificationListener(object):
    """The process's consumer of Nova's versioned notifications.

    :param url: the transport URL of Nova's notification bus (secret)
    :param pool: the queue's name (``default_pool()`` if empty); each
        pool gets its own copy of every notification
    :param conf: the ``ConfigOpts`` whose [oslo_messaging_rabbit] options
        (TLS, heartbeats, retry intervals) apply; the process's if None
    :param workers: threads running the handlers, which only set flags:
        one keeps Nova's order
    :param queue_expiry: seconds the queue outlives its consumer, and the
        longest a message waits in it (``expire_queue``)
    """

    def __init__(self, url, topic='versioned_notifications',
                 exchange='nova', pool=None, conf=None,
                 start_timeout=None, workers=1, queue_expiry=QUEUE_EXPIRY):
        self.url = url
        self.queue_expiry = queue_expiry
        self.topic = topic
        self.exchange = exchange
        self.pool = pool or default_pool()
        self.start_timeout = (START_TIMEOUT if start_timeout is None
                              else start_timeout)
        self._conf = cfg.CONF if conf is None else conf
        self._workers = workers
        self._lock = threading.Lock()
        self._subs = {}
        self._seen = {}
        self._server = None
        self._attempt = None
        self._deadline = 0.0
        self._settled = threading.Event()
        self._stopped = False
        self._warned = False
        self._watch = None
        self.listening = False
        # Whether the last move followed was heard (its first event came):
        # learned by the process, None until a move tells (expected).
        self.moves_heard = None
        # clock() of the last loss of the bus, None if never lost.
        self.lost_at = None
        # What the queue brought (see counts()).
        self._counts = collections.Counter()

    # -- starting and stopping ---------------------------------------------

    def start(self):
        """Attach the consumer (its queue then exists on the broker).

        Callers after the first wait only for what is left of the first
        one's ``start_timeout``.

        :returns: True once listening; False if that did not happen within
            ``start_timeout`` (or failed): the attempt goes on behind, and
            ``listening`` turns True if it succeeds later
        """
        with self._lock:
            if self._attempt is None and not self._stopped:
                self._deadline = time.monotonic() + self.start_timeout
                self._attempt = threading.Thread(
                    target=self._attach, name='nova-notifications',
                    daemon=True)
                self._attempt.start()
        self._settled.wait(max(0.0, self._deadline - time.monotonic()))
        if not self.listening:
            self._warn('cannot be reached within %.0f s' % self.start_timeout)
        return self.listening

    def _attach(self):
        try:
            transport = oslo_messaging.get_notification_transport(
                self._conf, url=self.url)
            if not expire_queue(transport, self.pool, self.queue_expiry):
                LOG.warning('Queue %s on %s gets no expiry (not '
                            'oslo.messaging\'s RabbitMQ driver): give it '
                            'one by a policy of the broker', self.pool,
                            masked(self.url))
            hosts = {(h.hostname, h.port or 5672) for h in
                     oslo_messaging.TransportURL.parse(
                         self._conf, self.url).hosts}
            server = oslo_messaging.get_notification_listener(
                transport,
                [oslo_messaging.Target(exchange=self.exchange,
                                       topic=self.topic)],
                [_Endpoint(self)], executor='threading', pool=self.pool)
            # Returns once the queue is declared and consumed; retries the
            # connection for ever meanwhile.
            server.start(override_pool_size=self._workers)
        except Exception as e:
            self._warn('failed (%s)' % e)
            self._settled.set()
            return
        with self._lock:
            self._server = server
            stopped = self._stopped
            if not stopped:
                self._watch = _BusWatch(self, hosts)
                logging.getLogger(RABBIT_LOGGER).addHandler(self._watch)
                self.listening = True
        if stopped:
            self._shut(server)
        else:
            LOG.info('Listening to Nova notifications on %s (exchange %s, '
                     'topic %s, queue %s)', masked(self.url), self.exchange,
                     self.topic, self.pool)
        self._settled.set()

    def stop(self):
        """Stop consuming (the queue stays on the broker for the next run)."""
        with self._lock:
            self._stopped = True
            self.listening = False
            server, self._server = self._server, None
            watch, self._watch = self._watch, None
        if watch is not None:
            logging.getLogger(RABBIT_LOGGER).removeHandler(watch)
        if server is not None:
            self._shut(server)

    @staticmethod
    def _shut(server):
        def shut():
            server.stop()
            server.wait()
        ending = threading.Thread(target=shut, name='nova-notifications-end',
                                  daemon=True)
        ending.start()
        ending.join(STOP_TIMEOUT)

    def _warn(self, what):
        """Log once why the bus is not heard; whether this call logged."""
        with self._lock:
            if self._warned or self._stopped:
                return False
            self._warned = True
        LOG.warning('The Nova notification bus %s %s; migrations are '
                    'followed by polling alone until it answers',
                    masked(self.url), what)
        return True

    def lost(self):
        """The bus was lost: events may be missed until it is back."""
        self.lost_at = time.monotonic()
        if not self._warn('was lost'):
            return
        # Moves heard until now sleep notification_check_interval between
        # looks: woken, they poll again at once.
        with self._lock:
            subs = [sub for group in self._subs.values() for sub in group]
        for sub in subs:
            sub.bus_lost()

    def lost_since(self, at):
        """Whether the bus was lost at or after clock() ``at``."""
        lost_at = self.lost_at
        return lost_at is not None and lost_at >= at

    def counts(self):
        """What this listener consumed so far, for operators and the bench.

        ``received``: messages taken from the queue; ``events``: those
        about a move of a server (duplicates excluded); ``duplicates``:
        redeliveries dropped; ``delivered``: events handed to a
        subscription (one per subscriber).
        """
        with self._lock:
            return {key: self._counts[key] for key in
                    ('received', 'events', 'duplicates', 'delivered')}

    # -- subscriptions -----------------------------------------------------

    def subscribe(self, server_id, since, wake=None, callback=None,
                  on_lost=None):
        """Follow the events of one server (see ``Subscription``)."""
        sub = Subscription(server_id, since, wake, callback, on_lost)
        with self._lock:
            self._subs.setdefault(server_id, []).append(sub)
        return sub

    def unsubscribe(self, sub):
        with self._lock:
            subs = self._subs.get(sub.server_id, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subs.pop(sub.server_id, None)

    def handle(self, priority, event_type, payload, metadata):
        """One notification from the bus (from oslo.messaging's threads)."""
        event = event_from(priority, event_type, payload, metadata)
        message_id = (metadata or {}).get('message_id')
        with self._lock:
            self._counts['received'] += 1
            if self._warned and not self._stopped:
                # Messages flow again: a later loss deserves its warning.
                self._warned = False
                LOG.info('Receiving Nova notifications again on %s',
                         masked(self.url))
            if event is None:
                return
            if message_id is not None:
                if message_id in self._seen:
                    self._counts['duplicates'] += 1
                    return
                self._seen[message_id] = None
                if len(self._seen) > SEEN_IDS:
                    del self._seen[next(iter(self._seen))]
            subs = list(self._subs.get(event.uuid, ()))
            self._counts['events'] += 1
            self._counts['delivered'] += len(subs)
        for sub in subs:
            sub.deliver(event)
