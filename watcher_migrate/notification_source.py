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
source only pushes news: it wakes the action and ``has_news`` says so;
``look`` answers None, and the next source (the shared feed, the read of
the server) confirms with one request begun after the event arrived
(``fresh_age``).
"""

import time

from watcher_migrate import sources


class NotificationSource(sources.Source):
    """The events of one server, from the process's listener.

    :param listener: a started ``notifications.NotificationListener``
    :param since: ``f()`` -> the wall time the move began
    :param wake: the tracker's Event, set on each event of the server
    :param clock: the tracker's clock, which ``fresh_age`` is given
    """

    name = "Nova's notifications"

    def __init__(self, listener, server_id, wake, label, since,
                 clock=time.monotonic):
        super(NotificationSource, self).__init__(label)
        self._listener = listener
        self._sub = listener.subscribe(server_id, since, wake, clock=clock)

    @property
    def closed(self):
        return self._sub is None

    def has_news(self):
        return self._sub is not None and self._sub.news

    @property
    def early_seen(self):
        """Whether the first event of a move arrived.

        ``live_migration_pre.*`` or ``resize_prep.*``: a move seen under
        way without it suggests Nova sends no notifications.
        """
        return self._sub is not None and self._sub.early_seen

    @property
    def last(self):
        """The latest event of the server (a hint, never a verdict)."""
        return None if self._sub is None else self._sub.last

    def fresh_age(self, max_age, now):
        """The ``max_age`` a look at clock() ``now`` may accept.

        With news, the answer must come from a request begun after the
        event arrived, or it would show the server as it was before.
        """
        sub = self._sub
        if sub is None or not sub.news or sub.news_at is None:
            return max_age
        return max(0.0, min(max_age, now - sub.news_at))

    def _look(self, max_age, check):
        # The news is taken: the next source's read confirms it.
        self._sub.take_news()
        return None

    def close(self):
        if self._sub is not None:
            self._listener.unsubscribe(self._sub)
            self._sub = None
