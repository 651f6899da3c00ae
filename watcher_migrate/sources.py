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

"""The ways of observing one server's migration in Nova.

Each ``Source`` answers ``look(max_age)`` with what it can say now of the
server it follows, or None when it cannot say (then the tracker asks the
next source of its list). A source that fails otherwise than by an outage
of Nova is *broken*: it logs one warning naming itself and the error,
and says nothing more; the migration goes on, observed by the next one.
Today's sources:

- ``FeedSource``: a subscription to the process's shared change feeds
  (``change_feed``), which may also push news between looks;
- ``ServerRead``: ``GET /servers/{id}``, the server alone, the last
  resort of the looks at the server (it does not break);
- ``FiguresSource``: the live migrations in progress of the server, with
  their progress figures.

A further source (e.g. Nova's notifications) is one more class, put first
in ``tracking.MigrationTracker.server_sources``.
"""

import abc

from novaclient import exceptions as nova_exceptions
from oslo_log import log

from watcher_migrate import exceptions

LOG = log.getLogger(__name__)


class Source(object, metaclass=abc.ABCMeta):
    """One way of observing a server: asked for looks, falls silent if broken.

    :param label: the server as logs name it
    :param on_broken: called once when the source breaks, after ``close``
    """

    # The failures that break the source; any other exception (an outage,
    # NovaUnavailable, is a MigrateError) goes to the caller, which rides
    # it out: it says nothing of the source itself.
    breaks_on = (Exception,)
    # The warning logged once when the source breaks; its arguments are
    # _warning_args(error).
    broken_warning = ('Server %s: observation by %s failed (%s); asking '
                      'the next source')
    # How the warning names the source (the class name if empty).
    name = ''

    def __init__(self, label, on_broken=None):
        self.label = label
        self.broken = False
        self._on_broken = on_broken

    def look(self, max_age=0.0, check=False):
        """What the source says of the server now; None if it cannot say.

        :param max_age: a routine look accepts a shared request begun that
            long ago (sources that read alone always read now)
        :param check: the answer must come from a request that had to
            show the server (a shared list may have left it out)
        """
        if self.broken or self.closed:
            return None
        return self._guarded(self._look, max_age, check)

    @abc.abstractmethod
    def _look(self, max_age, check):
        """The source's own look, which may fail."""

    @property
    def closed(self):
        """Whether ``close`` was called: the source says nothing more."""
        return False

    def has_news(self):
        """Whether the source pushed news since its last look."""
        return False

    def close(self):
        """Stop following the server (unsubscribe); looks say nothing."""

    def _guarded(self, read, *args):
        """``read(*args)``, or None once the source broke on it."""
        try:
            return read(*args)
        except exceptions.MigrateError:
            raise
        except self.breaks_on as e:
            self._break(e)
            return None

    def _break(self, error):
        LOG.warning(self.broken_warning, *self._warning_args(error))
        self.broken = True
        self.close()
        if self._on_broken is not None:
            self._on_broken()

    def _warning_args(self, error):
        return self.label, self.name or type(self).__name__, error


class ServerRead(Source):
    """The server read alone: ``(server, gone)``.

    A server Nova shows DELETED is gone, as in the shared feed, though
    Nova may still be finishing the deletion. It is the last resort, so
    it never breaks: every failure goes to the caller.
    """

    breaks_on = ()

    def __init__(self, gateway, server_id, label):
        super(ServerRead, self).__init__(label)
        self.gateway = gateway
        self.server_id = server_id

    def _look(self, max_age, check):
        server = self.gateway.get_server(self.server_id)
        if server is None or server.deleted:
            return None, True
        return server, False


class FeedSource(Source):
    """The server's entry in one of the process's shared change feeds.

    ``look`` updates it by the feed's request (``change_feed``) and
    answers ``(view, gone)``: the server for a ``ServerFeed``, our
    records by id for a ``MigrationFeed``. A feed Nova refuses (e.g. a
    policy that forbids listing all projects' servers) breaks the source.

    :param feed: the shared ``change_feed.ChangeFeed``
    :param read: ``f(since)``, the request of this action's gateway
    :param what: what the feed lists ('server', 'migration'), for logs
    :param view: what the action last read, the subscription's first view
    :param wake: the Event set when the feed learns news of the server
    """

    broken_warning = ('Server %s: the shared view of %ss is not available '
                      '(%s); reading the %s alone')

    def __init__(self, feed, read, what, server_id, view, wake, label,
                 on_broken=None):
        super(FeedSource, self).__init__(label, on_broken)
        self.feed = feed
        self.what = what
        self._read = read
        self._wake = wake
        self._sub = feed.subscribe(server_id, view, wake)

    @property
    def subscribers(self):
        """How many actions of the process share the feed."""
        return self.feed.subscribers

    @property
    def closed(self):
        return self._sub is None

    def has_news(self):
        return self._sub is not None and self._sub.news

    def _look(self, max_age, check):
        sub = self._sub
        self.feed.fresh(sub, self._read, max_age, roll_call=check)
        # This look reads what its own request brought: only news after
        # it (or an interrupt) should end the next sleep early.
        self._wake.clear()
        if check and not sub.answered:
            # Left out of the roll call: its cell did not answer.
            return None
        return sub.view, sub.gone

    def close(self):
        if self._sub is not None:
            self.feed.unsubscribe(self._sub)
            self._sub = None

    def _warning_args(self, error):
        return self.label, self.what, error, self.what


class ServerFeedSource(FeedSource):
    """The server through the shared ``ServerFeed``, news first.

    :param since: ``f()`` -> the clock() time the move began: news the
        feed brought after it while the action slept is as fresh as a
        request, and costs none
    """

    def __init__(self, feed, read, server_id, view, wake, label, since,
                 on_broken=None):
        super(ServerFeedSource, self).__init__(
            feed, read, 'server', server_id, view, wake, label, on_broken)
        self._since = since

    def _look(self, max_age, check):
        sub = self._sub
        if not check and sub.news and sub.news_at >= self._since():
            sub.seen = max(sub.seen, sub.news_at)
        elif super(ServerFeedSource, self)._look(max_age, check) is None:
            return None
        sub.news = False
        return sub.view, sub.gone


class FiguresSource(Source):
    """The server's live migrations in progress, with their figures.

    ``look`` answers the list of them (newest first), ``record`` one of
    them by id (None once it is no longer in progress). Figures Nova
    fails to give (not an outage: e.g. a 400 of its response validation)
    break the source: the server and the record listing still see how
    the migration ends.
    """

    breaks_on = (nova_exceptions.ClientException,)
    broken_warning = ('Server %s: Nova cannot give the progress of its '
                      'migration (%s); following the server instead')

    def __init__(self, gateway, server_id, label):
        super(FiguresSource, self).__init__(label)
        self.gateway = gateway
        self.server_id = server_id

    def _look(self, max_age, check):
        return self.gateway.list_live_migrations_in_progress(self.server_id)

    def _warning_args(self, error):
        return self.label, error

    def record(self, migration_id):
        """Our live migration in progress; None if it cannot say."""
        if self.broken:
            return None
        return self._guarded(self.gateway.get_live_migration,
                             self.server_id, migration_id)
