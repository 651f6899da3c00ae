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

"""What the process learns and shares across its actions, in one place.

``default()`` is the process's own context: every action, gateway and
tracker uses it unless given another (tests give each process they play
a fresh ``ProcessContext``).
"""

import threading
import time

from watcher_migrate import change_feed
from watcher_migrate import end_prediction
from watcher_migrate import journal as moves_journal
from watcher_migrate import tuning


class VersionCache(object):
    """Negotiated microversions per compute endpoint, for the process.

    Every action of a plan talks to the same Nova: negotiating once per
    endpoint (again after ``tuning.VERSION_TTL``, in case Nova was
    upgraded) saves each action the version request.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._versions = {}
        self._discovering = {}

    def discovery_lock(self, endpoint):
        """Held while one action discovers: the others wait and reuse."""
        with self._lock:
            return self._discovering.setdefault(endpoint, threading.Lock())

    def get(self, endpoint):
        with self._lock:
            version, expires = self._versions.get(endpoint, (None, 0.0))
            return version if time.monotonic() < expires else None

    def put(self, endpoint, version):
        with self._lock:
            self._versions[endpoint] = (
                version, time.monotonic() + tuning.VERSION_TTL)


class ProcessContext(object):
    """The state the actions of one process learn and share.

    One applier (or one ``watcher-migrate run``) executes many actions,
    often at once, against the same Nova. What one action learns of that
    Nova holds for the others, and one request can answer for all of
    them, so sharing cuts Nova's API load and each action's delays:

    - ``versions``: the negotiated microversion per compute endpoint
      (``VersionCache``), so that only the first action negotiates;
    - ``service_read(endpoint)``: the listing of nova-compute services
      that actions checking their destinations at once share
      (``change_feed.SharedRead``);
    - ``feeds``: the shared ``changes-since`` listings of servers and
      live migration records (``change_feed.FeedRegistry``);
    - ``finish_lag``: how long after the copy's predicted end Nova lands
      a live-migrated server (``end_prediction.FinishLag``);
    - ``start_lag``: how long after a live move request Nova begins the
      copy (``end_prediction.StartLag``);
    - ``copy_pace``: how often Nova saves a live copy's figures and how
      fast the last copies went (``end_prediction.CopyPace``);
    - ``notification_listener(settings)``: the consumer of Nova's
      notifications (``notifications.NotificationListener``), started once;
    - ``journal(settings)``: the journal of moves in flight
      (``journal.Journal``), reconciled once, before the process's first
      move, with what Nova shows of the moves of dead processes
      (``recovery``).

    The lags are learned from the migrations followed, so the first look
    at a migration comes when it can decide something.
    """

    def __init__(self):
        self.versions = VersionCache()
        self.feeds = change_feed.FeedRegistry()
        self.finish_lag = end_prediction.FinishLag()
        self.start_lag = end_prediction.StartLag()
        self.copy_pace = end_prediction.CopyPace()
        self._lock = threading.Lock()
        self._service_reads = {}
        self._listeners = {}
        self._journals = {}
        self._recovery_lock = threading.Lock()
        self._recoveries = {}

    def service_read(self, endpoint):
        """The shared read of the compute services of ``endpoint``."""
        with self._lock:
            return self._service_reads.setdefault(
                endpoint, change_feed.SharedRead())

    def notification_listener(self, settings):
        """The listener the settings name, started; None if it is not.

        The askers wait for the bus at most the listener's start timeout
        from the first ask; later ones take it as it is (listening once a
        late start succeeds).
        """
        url = settings.notification_transport_url
        if not url:
            return None
        # oslo.messaging is imported only by processes that listen.
        from watcher_migrate import notifications
        key = (url, settings.notification_topic,
               settings.notification_exchange, settings.notification_pool)
        with self._lock:
            listener = self._listeners.get(key)
            if listener is None:
                listener = self._listeners[key] = \
                    notifications.NotificationListener(
                        url, topic=settings.notification_topic,
                        exchange=settings.notification_exchange,
                        pool=settings.notification_pool,
                        queue_expiry=settings.notification_queue_expiry)
        return listener if listener.start() else None

    def journal(self, settings, gateway=None, server_id=None):
        """The journal ``settings`` name, recovered once if ``gateway``.

        The first caller with a gateway starts reconciling the entries
        that dead processes left (``recovery.Recovering``), behind the
        moves; a caller moving ``server_id`` waits only if that server's
        earlier move is being recovered: Nova would refuse the new one
        while the old one is under way. A failed recovery is logged and
        not tried again by this process (``watcher-migrate recover``
        can); only a journal that cannot be used fails the caller.

        :raises journal.JournalError: the journal cannot be used
        """
        path = moves_journal.path_of(settings)
        with self._lock:
            store = self._journals.get(path)
            if store is None:
                store = self._journals[path] = moves_journal.Journal(path)
        if gateway is None:
            return store
        with self._recovery_lock:
            recovering = self._recoveries.get(path)
            if recovering is None:
                store.open()
                # Imported here: recovery builds moves, which use this
                # module.
                from watcher_migrate import recovery
                recovering = self._recoveries[path] = \
                    recovery.Recovering(gateway, settings, store)
        if server_id is not None:
            recovering.wait_for(server_id)
        return store

    def notification_counts(self):
        """Sum of the listeners' ``counts()``; None if none was asked for."""
        with self._lock:
            listeners = list(self._listeners.values())
        if not listeners:
            return None
        total = {}
        for listener in listeners:
            for key, value in listener.counts().items():
                total[key] = total.get(key, 0) + value
        return total

    def stop_listening(self):
        """Stop the process's notification listeners (process end, tests)."""
        with self._lock:
            listeners, self._listeners = list(self._listeners.values()), {}
        for listener in listeners:
            listener.stop()


_DEFAULT = ProcessContext()


def default():
    """The context of this process, used unless another is given."""
    return _DEFAULT
