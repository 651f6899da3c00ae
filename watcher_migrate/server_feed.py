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

"""One shared view of the servers every action of the process is moving.

An applier runs many migrations at once. If each action read its own
server on its own schedule, Nova would serve requests in proportion to the
number of migrations. Instead, every action of the process that follows a
server subscribes to the ``ServerFeed`` of its compute endpoint; an action
that needs a fresh look asks the feed, and one request
(``GET /servers/detail?all_tenants=1&changes-since=T``) answers for every
subscriber at once: the servers that changed since the previous request.
Requests that arrive while one is in flight, or within ``min_gap`` of the
last, share the next one. When a request brings news of a server, that
server's subscriber is woken even if it was not the one asking, so it
notices a change as soon as any action of the process has looked.

There is no background thread: the action that asks when no request is in
flight makes the request for everyone. A feed with no subscribers costs
nothing.
"""

import datetime
import threading
import time

from oslo_log import log

LOG = log.getLogger(__name__)

# changes-since compares with timestamps written by Nova's own hosts; this
# much slack covers their clock skew against ours (NTP keeps it far lower).
CLOCK_SLACK = 2.0


def _nova_time(wall):
    moment = datetime.datetime.fromtimestamp(wall, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class Subscription(object):
    """One action's interest in one server.

    ``view`` is the latest ``ServerView`` (None once the server is gone);
    ``wake`` is set whenever the feed learns something new about it.
    """

    def __init__(self, server_id, view, wake):
        self.server_id = server_id
        self.view = view
        self.gone = False
        self.wake = wake
        # The feed changed ``view`` since its owner last looked, by a
        # request that began at clock() ``news_at``.
        self.news = False
        self.news_at = None
        # Until a request covers it: the changes it must not miss began.
        self.since = None


class ServerFeed(object):
    """Shared, coalesced server reads for one compute endpoint.

    :param min_gap: least time between two requests, seconds
    """

    def __init__(self, min_gap=0.2, clock=time.monotonic, wall=time.time):
        self.min_gap = min_gap
        self.clock = clock
        self.wall = wall
        self._cond = threading.Condition()
        self._subs = set()
        self._polling = False
        self._last_start = None
        self._last_wall = None
        self._done = -1.0       # clock() at which the last good poll began
        self._error = None      # (started, exception) of the last poll
        self.requests = 0

    # -- subscribers ------------------------------------------------------

    def subscribe(self, server_id, view, wake):
        sub = Subscription(server_id, view, wake)
        sub.since = self.wall()
        with self._cond:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub):
        with self._cond:
            self._subs.discard(sub)
            if not self._subs:
                # Nothing to follow: the next subscriber starts afresh.
                self._last_wall = None

    # -- looking ----------------------------------------------------------

    def fresh(self, sub, read):
        """The server as Nova shows it now (by a request begun after now).

        :param read: ``f(since)`` -> ServerViews changed since ``since``
            (the asking action's gateway; it makes the request if needed)
        :returns: the ``Subscription``, updated
        :raises: what ``read`` raised, for every action that waited for it
        """
        asked = self.clock()
        with self._cond:
            while True:
                if self._done >= asked:
                    return sub
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
            since = self._since()
            wall = self.wall()
            covered = list(self._subs)
        try:
            views = read(_nova_time(since))
        except Exception as e:
            with self._cond:
                self._polling = False
                self._error = (started, e)
                self._cond.notify_all()
            raise
        with self._cond:
            self.requests += 1
            for covering in covered:
                covering.since = None
            self._publish(views, started)
            self._polling = False
            self._done = started
            self._last_wall = wall
            self._cond.notify_all()
        return sub

    def _since(self):
        """Earliest change this request must include, as a wall time."""
        starts = [s.since for s in self._subs if s.since is not None]
        if self._last_wall is not None:
            starts.append(self._last_wall)
        return min(starts or [self.wall()]) - CLOCK_SLACK

    def _publish(self, views, started):
        by_id = {v.id: v for v in views}
        for sub in self._subs:
            view = by_id.get(sub.server_id)
            if view is None:
                continue
            if view.deleted:
                view = None
                sub.gone = True
            if view != sub.view:
                sub.view = view
                sub.news = True
                sub.news_at = started
                sub.wake.set()


class _Registry(object):
    """The process's feeds, one per compute endpoint."""

    def __init__(self):
        self._lock = threading.Lock()
        self._feeds = {}

    def feed_for(self, endpoint, min_gap):
        with self._lock:
            feed = self._feeds.get(endpoint)
            if feed is None:
                feed = self._feeds[endpoint] = ServerFeed(min_gap)
            return feed


FEEDS = _Registry()
