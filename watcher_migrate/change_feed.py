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

"""Shared views of what changed in Nova, for every action of the process.

An applier runs many migrations at once. If each action read its own
server and migration on its own schedule, Nova would serve requests in
proportion to the number of migrations. Instead, every action of the
process subscribes to the feeds of its compute endpoint; an action that
needs a fresh look asks the feed, and one request answers for every
subscriber at once with what changed since the previous one:

- ``ServerFeed``: ``GET /servers/detail?all_tenants=1&changes-since=T``,
  the servers (a server landing on its destination ends a move);
- ``MigrationFeed``: ``GET /os-migrations?changes-since=T`` (2.59+), the
  live migration records (queued, preparing, running: when a copy starts).

Requests that arrive while one is in flight, or within ``min_gap`` of the
last, share the next one; a routine look (``max_age``) is content with a
request begun that long ago. When a request brings news of a server, its
subscriber is woken even if it was not the one asking, so it notices a
change as soon as any action of the process has looked.

Nova leaves out of a list, silently, a cell that fails or does not
answer in time, and a feed that moved on past that list would never
hear of what changed then. So a subscriber asks now and then for a
*roll call*: a request whose window reaches back to the last change the
feed saw of every subscriber's server, so that each server must be in
the answer (a deleted one too, as DELETED). A server missing from a roll
call was in a cell left out: its subscriber reads it alone. One roll
call checks every subscriber for the price of one request.

There is no background thread: the action that asks when no request is in
flight makes the request for everyone. A feed with no subscribers costs
nothing.
"""

import datetime
import threading
import time

from oslo_log import log

from watcher_migrate import end_prediction
from watcher_migrate import tuning

LOG = log.getLogger(__name__)

# "Begun after": clock() values are floats; this is the least step.
_LATER = 1e-9


def _nova_time(wall):
    moment = datetime.datetime.fromtimestamp(wall, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class Subscription(object):
    """One action's interest in one server.

    ``view`` is what the feed last learnt of it (see the feed's
    ``merge``); ``wake`` is set whenever the feed learns something new.
    """

    def __init__(self, server_id, view, wake, at):
        self.server_id = server_id
        self.view = view
        self.gone = False
        self.wake = wake
        # clock() at subscription: older requests say nothing of ``view``.
        self.at = at
        # wall time of the server's last change the feed knows of: a
        # request whose window begins before it must list the server.
        self.anchor = None
        # Whether the server was in the last roll call that covered it.
        self.answered = False
        # The feed changed ``view`` since its owner last looked, by a
        # request that began at clock() ``news_at``.
        self.news = False
        self.news_at = None
        # Until a request covers it: the changes it must not miss began.
        self.since = None
        # clock() start of the newest request its owner has looked at.
        self.seen = at


class SharedRead(object):
    """One request at a time, its answer shared by everyone who asked.

    An asker gets the answer of a request begun after it asked (or at
    most ``max_age`` before): askers that arrive while a request is in
    flight, or within ``min_gap`` of the last, share the next one.

    :param min_gap: least time between two requests, seconds
    """

    def __init__(self, min_gap=0.0, clock=time.monotonic):
        self.min_gap = min_gap
        self.clock = clock
        self._cond = threading.Condition()
        self._polling = False
        self._last_start = None
        self._done = -1.0       # clock() at which the last good read began
        self._answer = None
        self._error = None      # (started, exception) of the last read

    def get(self, read, max_age=0.0, not_before=None):
        """The answer of ``read(*self._begin())``, fresh enough.

        :param max_age: 0 for an answer begun after now; a routine look
            accepts one begun that long ago
        :param not_before: clock() time the answer must not be older than
        :raises: what ``read`` raised, for every asker that waited for it
        """
        asked = self.clock()
        oldest = asked - max_age
        if not_before is not None:
            oldest = max(oldest, not_before)
        with self._cond:
            while True:
                if self._done >= oldest:
                    return self._answer
                if self._error is not None and self._error[0] >= asked:
                    raise self._error[1]
                if not self._polling:
                    wait = (0.0 if self._last_start is None
                            else self._last_start + self.min_gap
                            - self.clock())
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            self._polling = True
            started = self.clock()
            self._last_start = started
            begun = self._begin()
        try:
            answer = read(*begun)
        except Exception as e:
            with self._cond:
                self._polling = False
                self._error = (started, e)
                self._cond.notify_all()
            raise
        with self._cond:
            self._end(answer, started, begun)
            self._answer = answer
            self._polling = False
            self._done = started
            self._cond.notify_all()
        return answer

    def _begin(self):
        """The arguments of the next read (called with the lock held)."""
        return ()

    def _end(self, answer, started, begun):
        """Take in an answer (called with the lock held)."""


class ChangeFeed(SharedRead):
    """Shared, coalesced reads of one kind of change, for one endpoint.

    :param min_gap: least time between two requests, seconds
    """

    def __init__(self, min_gap=tuning.FEED_MIN_GAP, clock=time.monotonic,
                 wall=time.time):
        super(ChangeFeed, self).__init__(min_gap, clock)
        self.wall = wall
        self._subs = set()
        self._last_wall = None
        # Roll calls have a request slot of their own: a list of every
        # followed server is slower, and must not hold up the looks.
        self._roll_calls = _RollCalls(self)

    # -- what a request means for a subscriber (per kind) -----------------

    def key(self, item):
        """The server an item of the answer is about."""
        raise NotImplementedError()

    def merge(self, sub, items):
        """``sub``'s new view from the items about its server, or None."""
        raise NotImplementedError()

    def anchor(self, view):
        """Wall time of the last change ``view`` shows, or None."""
        return None

    # -- subscribers ------------------------------------------------------

    def subscribe(self, server_id, view, wake):
        sub = Subscription(server_id, view, wake, self.clock())
        sub.since = self.wall()
        sub.anchor = self.anchor(view)
        with self._cond:
            self._subs.add(sub)
        return sub

    @property
    def subscribers(self):
        with self._cond:
            return len(self._subs)

    def unsubscribe(self, sub):
        with self._cond:
            self._subs.discard(sub)
            if not self._subs:
                # Nothing to follow: the next subscriber starts afresh.
                self._last_wall = None

    # -- looking ----------------------------------------------------------

    def fresh(self, sub, read, max_age=0.0, roll_call=False):
        """What Nova shows now, by a request begun at most ``max_age`` ago.

        :param read: ``f(since)`` -> the items changed since ``since`` (the
            asking action's gateway; it makes the request if needed)
        :param max_age: 0 for a look that must see Nova as it is now; a
            routine look accepts a request of anybody's begun that long ago
            that its owner has not looked at yet
        :param roll_call: the request must be a roll call; then
            ``sub.answered`` says whether the server was in it
        :returns: the ``Subscription``, updated
        :raises: what ``read`` raised, for every action that waited for it
        """
        channel = self._roll_calls if roll_call else self
        channel.get(read, max_age, not_before=sub.seen + _LATER)
        with self._cond:
            sub.seen = max(sub.seen, channel._done)
        return sub

    def _begin(self):
        since = self._since()
        return (_nova_time(since), self.wall(), list(self._subs))

    def get(self, read, max_age=0.0, not_before=None):
        return super(ChangeFeed, self).get(
            lambda since, wall, covered: read(since), max_age, not_before)

    def _end(self, items, started, begun):
        _since, wall, covered = begun
        for covering in covered:
            covering.since = None
        self._publish(items, started)
        self._last_wall = wall

    def _since(self):
        """Earliest change this request must include, as a wall time."""
        starts = [s.since for s in self._subs if s.since is not None]
        if self._last_wall is not None:
            starts.append(self._last_wall)
        return min(starts or [self.wall()]) - tuning.CLOCK_SLACK

    def _roll_call_begin(self):
        """The window and the subscribers of the next roll call."""
        with self._cond:
            called = [s for s in self._subs if s.anchor is not None]
            since = min([s.anchor for s in called] or [self.wall()])
        return _nova_time(since - tuning.CLOCK_SLACK), called

    def _roll_call_end(self, items, started, called):
        with self._cond:
            listed = self._publish(items, started)
            for sub in called:
                sub.answered = sub.server_id in listed

    def _publish(self, items, started):
        """Tell the subscribers; :returns: the items by the server they name"""
        about = {}
        for item in items:
            about.setdefault(self.key(item), []).append(item)
        for sub in self._subs:
            if sub.server_id not in about:
                continue
            view = self.merge(sub, about[sub.server_id])
            if sub.news_at is not None and started < sub.news_at:
                # Begun before the request that brought the view: the
                # two slots (see roll calls) may end out of order.
                continue
            sub.anchor = max(filter(None, (
                sub.anchor, self.anchor(about[sub.server_id][-1]))),
                default=None)
            if view != sub.view:
                sub.view = view
                sub.news = True
                sub.news_at = started
                sub.wake.set()
        return about


class _RollCalls(SharedRead):
    """The request slot of a feed's roll calls (see the module's doc)."""

    def __init__(self, feed):
        super(_RollCalls, self).__init__(feed.min_gap, feed.clock)
        self._feed = feed

    def get(self, read, max_age=0.0, not_before=None):
        return super(_RollCalls, self).get(
            lambda since, called: read(since), max_age, not_before)

    def _begin(self):
        return self._feed._roll_call_begin()

    def _end(self, items, started, begun):
        self._feed._roll_call_end(items, started, begun[1])


class ServerFeed(ChangeFeed):
    """The servers: ``view`` is the latest ``ServerView`` (None once gone)."""

    def key(self, item):
        return item.id

    def merge(self, sub, items):
        view = items[-1]
        if view.deleted:
            sub.gone = True
            return None
        return view

    def anchor(self, view):
        # Nova's changes-since lists a server whose updated_at is at or
        # after the window's start, deleted ones included.
        if view is None:
            return None
        return end_prediction.parse_nova_time(view.updated)[0]


class MigrationFeed(ChangeFeed):
    """Live migration records: ``view`` is the server's records seen, by id.

    A record keeps its last known state until a request shows it changed.
    """

    def key(self, item):
        return item.instance_uuid

    def merge(self, sub, items):
        view = dict(sub.view or {})
        view.update((item.id, item) for item in items)
        return view


class FeedRegistry(object):
    """The process's feeds, one per kind and compute endpoint.

    Held by the process's ``context.ProcessContext``.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._feeds = {}

    def feed_for(self, endpoint, min_gap, kind=ServerFeed):
        with self._lock:
            feed = self._feeds.get((kind, endpoint))
            if feed is None:
                feed = self._feeds[(kind, endpoint)] = kind(min_gap)
            return feed
