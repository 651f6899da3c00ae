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

"""Nova's notifications about one server, as a ``sources.Source``.

A notification says that the server changed, not how it stands: it may
be lost, late, duplicated or out of order, and an event is not the state
(``live_migration_post.end`` carries the source's stale copy). So the
source only pushes news: an event that ends a step the action waits for
(``decisive``) wakes the action and ``has_news`` says so; ``look``
answers None, and the tracker confirms with one read of the server
alone, begun at once (the shared feed's request in flight began before
the event). One event is believed with no read: Nova's word that the
server landed, by our own request (``believed``).

Once the first event of the move has arrived and the bus holds, the
source is *hearing*: ``HeardSchedule`` then stops the polling, and the
action looks only when woken, or every notification_check_interval in
case an event was lost. Without those events (notifications off in Nova,
the bus lost) the move is followed by polling, as without a listener.
"""

import time

from oslo_log import log

from watcher_migrate import nova_gateway
from watcher_migrate import sources

LOG = log.getLogger(__name__)

# Events that end a step an action waits for; the others (a move's first
# steps, the source's stale post-migration copy) wake nobody.
DECISIVE_EVENTS = frozenset([
    'instance.live_migration_post_dest.end',
    'instance.live_migration_rollback.end',
    'instance.live_migration_abort.end',
    'instance.resize_finish.end',
    'instance.resize_confirm.end',
    'instance.resize_revert.end',
    'instance.resize.error',
    'compute_task.migrate_server.error',
])
# Record statuses by which the move's first event must have come.
UNDER_WAY = frozenset(['running', 'post-migrating', 'migrating',
                       'finished'])
# The same for the server's task, which is all a cold move's looks read:
# the source sets these after the destination sent resize_prep.* (not
# resize_prep, which the API sets before any event).
UNDER_WAY_TASKS = frozenset(['resize_migrating', 'resize_migrated',
                             'resize_finish'])


def under_way(look):
    """Whether ``look`` shows a move past its first event."""
    return look.status in UNDER_WAY or (
        look.server is not None and look.server.task_state in UNDER_WAY_TASKS)


# The API status of a server with no task, for the vm_states a landing
# leaves it in (a live move, a cold one before and after its confirm).
LANDED_STATUS = {'active': 'ACTIVE', 'stopped': 'SHUTOFF',
                 'resized': 'VERIFY_RESIZE'}


def believed(event, request_id, source, destination=None):
    """The server as ``event`` shows it, if it is its landing by our request.

    Nova sends an instance's notification once the save it tells of is
    committed: the save that lands the server (no task left) and the
    ``.end`` after it show what a read of the server would show then.
    So that event is believed, with no read, when it carries the id Nova
    gave our own request (not an earlier move, not another server's, nor
    a message made without it), no task, a status a landing leaves, and
    a host other than the source (the destination, if named). Nothing
    else is: a failure, above all, is confirmed by a read.

    :returns: a ``nova_gateway.ServerView``, or None
    """
    if event is None or request_id is None or \
            event.request_id != request_id or event.priority != 'info' or \
            event.task_state is not None:
        return None
    status = LANDED_STATUS.get(event.state)
    if status is None or event.host in (None, source) or \
            destination not in (None, event.host):
        return None
    return nova_gateway.ServerView(id=event.uuid, name=None, status=status,
                                   task_state=None, host=event.host)


def decisive(event):
    """Whether ``event`` may end a step of a move (worth a look now)."""
    if event.priority == 'error' or event.event_type in DECISIVE_EVENTS:
        return True
    # With notify_on_state_change, the save that lands the server (or
    # puts it back) comes with no task.
    return event.event_type == 'instance.update' and event.task_state is None


class NotificationSource(sources.Source):
    """The events of one server, from the process's listener.

    :param listener: a started ``notifications.NotificationListener``
    :param since: ``f()`` -> the wall time the move began
    :param wake: the tracker's Event, set on each event of the server
    :param clock: the tracker's clock (when the bus was lost is on it)
    """

    name = "Nova's notifications"

    def __init__(self, listener, server_id, wake, label, since,
                 clock=time.monotonic):
        super(NotificationSource, self).__init__(label)
        self._listener = listener
        self._wake = wake
        self._since_clock = clock()
        # A decisive event arrived since the last look; the latest one.
        self._news = False
        self._word = None
        # The id Nova gave the request whose landing we wait for, and of
        # the last one whose landing was believed.
        self._request_id = None
        self._believed_request = None
        self._silence_noted = False
        self._heard_at_close = False
        # A lost bus wakes the action: it polls again at once.
        self._sub = listener.subscribe(server_id, since,
                                       callback=self._deliver,
                                       on_lost=wake.set)

    def _deliver(self, event):
        if decisive(event):
            self._word = event
            # A believed landing's later events (its .end) add nothing.
            self._news = self._news or self._believed_request is None or \
                event.request_id != self._believed_request
        elif not event.early:
            return
        self._listener.moves_heard = True
        # The first event ends the wait for the first look, which then
        # needs no request: the move is heard from now on.
        self._wake.set()

    @property
    def closed(self):
        return self._sub is None

    def has_news(self):
        return self._sub is not None and self._news

    def own_request(self, request_id):
        """Our request ``request_id`` (a move, a confirm) was accepted."""
        self._request_id = request_id

    def landing(self, source, destination=None):
        """The server as the news shows it if believed (see ``believed``)."""
        if not self.has_news():
            return None
        server = believed(self._word, self._request_id, source, destination)
        if server is not None:
            self._believed_request = self._request_id
        return server

    @property
    def hearing(self):
        """Whether the move's events are heard: polling may stop."""
        return (self._sub is not None and self._sub.early_seen
                and self._listener.listening
                and not self._listener.lost_since(self._since_clock))

    @property
    def expected(self):
        """Whether the move's events should come.

        The bus the operator configured is trusted from the process's
        first move on, until a move shows Nova sending nothing of it
        (``note_silence``): polling each process's first moves until
        their events came would cost every fresh applier requests.
        """
        return self._listener.listening and \
            self._listener.moves_heard is not False

    def note_silence(self, look):
        """Log once that Nova shows the move under way, unheard of."""
        if under_way(look):
            self._silent('Nova shows its migration %s'
                         % (look.status or look.server.task_state),
                         'following it by polling')

    def note_end(self):
        """The move ended on its destination: say so if it went unheard.

        Its first events come long before its end: none means Nova
        sends nothing (the next moves are polled from their start).
        """
        self._silent('Nova ended its migration', 'polling the next moves')

    def _silent(self, seen, so):
        if self._silence_noted or self._sub is None or \
                self._sub.early_seen or not self._listener.listening:
            return
        self._silence_noted = True
        self._listener.moves_heard = False
        LOG.warning('Server %s: %s but sent no notification of it (are '
                    'versioned notifications on in Nova?); %s', self.label,
                    seen, so)

    @property
    def early_seen(self):
        """Whether the first event of a move arrived (also once closed).

        ``live_migration_pre.*`` or ``resize_prep.*``: a move seen under
        way without it suggests Nova sends no notifications.
        """
        if self._sub is None:
            return self._heard_at_close
        return self._sub.early_seen

    @property
    def last(self):
        """The latest event of the server (a hint, never a verdict)."""
        return None if self._sub is None else self._sub.last

    def _look(self, max_age, check):
        # The news is taken: the tracker's read of the server confirms it.
        self._news = False
        return None

    def close(self):
        if self._sub is not None:
            # Kept for the move's last words (how it was followed).
            self._heard_at_close = self._sub.early_seen
            self._listener.unsubscribe(self._sub)
            self._sub = None


class HeardSchedule(object):
    """A move's schedule of looks, paused while its events are heard.

    Hearing, the next look is ``interval`` (notification_check_interval)
    away (the events wake the action before); not hearing, ``inner``
    decides, as without a listener. A live schedule's predictor, stall
    watch and landing are ``inner``'s.

    No event says that a copy stopped converging, so while a live move
    is heard its stall watch still gets Nova's figures: a first reading
    after ``interval`` (a move shorter than that reads none), then one at
    each end of the stall window, and the one that may confirm an end
    predicted past the deadline.
    """

    def __init__(self, inner, notices, interval):
        self._inner = inner
        self._notices = notices
        self._interval = interval
        # A cold move's schedule (a waiting.PollSchedule) has no watch.
        self._watch = getattr(inner, 'watch', None)
        self._heard_since = None    # wall time the move was first heard

    def next_delay(self, look):
        if self._notices.hearing:
            if self._watch is None:
                return self._interval
            now = self._inner.wall()
            if self._heard_since is None:
                self._heard_since = now
            due = self._reading_at()
            if due is None:
                return self._interval
            return max(self._inner.floor, min(self._interval, due - now))
        self._notices.note_silence(look)
        return self._inner.next_delay(look)

    def _reading_at(self):
        """Wall time the stall watch wants the figures read while heard."""
        watch = self._watch
        if watch is None or not watch.window or \
                self.predictor.figures_missing or self.predictor.copied:
            return None
        due = [at for at in (watch.check_at(),
                             self._inner.confirmation_at())
               if at is not None]
        if due:
            return min(due)
        # Not judging yet (no running figures): one try a check interval.
        since = self.predictor.read_at or self._heard_since
        return None if since is None else since + self._interval

    def _reading_due(self):
        due = self._reading_at()
        # News comes first: it may be the landing, which ends the watch.
        return due is not None and not self._notices.has_news() and \
            self._inner.wall() >= due

    def wants_figures(self):
        if self._notices.hearing:
            return self._reading_due()
        return self._inner.wants_figures()

    @property
    def urgent(self):
        return not self._notices.hearing and self._inner.urgent

    @property
    def late(self):
        return not self._notices.hearing and self._inner.late

    def stall_check_due(self):
        if self._notices.hearing:
            return self._reading_due()
        return self._inner.stall_check_due()

    # What the live move and the tracker read of a live schedule.
    @property
    def predictor(self):
        return self._inner.predictor

    @property
    def watch(self):
        return self._watch

    def landed(self, at):
        self._inner.landed(at)
