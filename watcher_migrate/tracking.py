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

"""Looking at one server's migration in Nova, as cheaply as possible.

``MigrationTracker`` finds which migration record is ours and gives
``Look``s at it and at the server, from its ``sources`` (the process's
shared change feeds, the migration's progress figures, a read of the
server alone), falling back from a failing source to the next.
What a look means is phases' business; what to do about it the move's
(watcher_migrate.moves).
"""

import dataclasses
import threading
import time

from oslo_log import log

from watcher_migrate import change_feed
from watcher_migrate import convergence
from watcher_migrate import end_prediction
from watcher_migrate import exceptions
from watcher_migrate import notification_source
from watcher_migrate import nova_gateway
from watcher_migrate import phases
from watcher_migrate import sources
from watcher_migrate import tuning

LOG = log.getLogger(__name__)

# migration_type in /os-migrations (2.23+) for each kind of move.
LIVE_RECORD_TYPE = 'live-migration'
COLD_RECORD_TYPE = 'migration'


@dataclasses.dataclass(frozen=True)
class Look:
    """One observation: our migration record and, if read, the server.

    ``server_gone`` is True when Nova answered 404 for the server.
    """

    migration: nova_gateway.MigrationView = None
    server: nova_gateway.ServerView = None
    server_gone: bool = False
    at: float = 0.0

    @property
    def status(self):
        return self.migration.status if self.migration else None


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a migration stands, for logs and progress displays."""

    phase: str
    percent: int = None
    memory_processed_bytes: int = 0
    memory_total_bytes: int = 0
    elapsed: float = 0.0
    # For displays that move between reads: the wall time Nova wrote the
    # memory figures (the record's updated_at), the copy's rate from two
    # of them (bytes/s, None until known) and the wall time of the look.
    figures_at: float = None
    copy_rate: float = None
    read_at: float = None


class MigrationTracker(object):
    """Looks at the migration of one server started by one move.

    It knows which migration record is ours and how to see it and the
    server at the least cost; it never writes to Nova and never waits:
    the move asks for a look, ``waiting.wait_for`` says when.
    ``server_sources`` are the ways of seeing the server, in the order
    they are asked (``sources``): each that cannot say hands over to the
    next, down to the read of the server alone; ``figures`` gives the
    progress figures of a live migration.

    :param gateway: a ``NovaGateway``
    :param request: the ``parameters.MigrationRequest``
    :param settings: ``options.Settings``
    :param context: the ``context.ProcessContext`` whose feeds and lags
        it uses: the gateway's if None
    """

    def __init__(self, gateway, request, settings, clock=time.monotonic,
                 wall=time.time, context=None):
        self.gateway = gateway
        self.request = request
        self.settings = settings
        self.clock = clock
        self.wall = wall
        # Set by the shared feed when it learns news of our server, and by
        # interrupt(): either ends a sleep between looks.
        self.wake = threading.Event()
        # The server read alone is the last resort; watch() puts the
        # shared feed before it.
        self._server_read = sources.ServerRead(gateway, request.server_id,
                                               request.label)
        self.server_sources = [self._server_read]
        self._server_feed = None
        self._notices = None
        self._record_source = None
        self._figure_reads = 0
        self._context = gateway.context if context is None else context
        self._start_lag = self._context.start_lag
        self._start_judged = False
        self._move_sent_at = None
        self._routine_age = (tuning.ROUTINE_AGE_FRACTION
                             * settings.poll_interval_max)
        self._started_wall = wall()
        self._server_updated = None
        self.schedule = None
        self._last_record = None
        self._source = None
        #: Called with the migration id once ours is known (the journal).
        self.on_record = None
        self._migration_id = None
        self._record_type = (LIVE_RECORD_TYPE if request.live
                             else COLD_RECORD_TYPE)
        self._in_progress = (phases.LIVE_IN_PROGRESS if request.live
                             else phases.COLD_IN_PROGRESS)
        # Once it fails (not an outage: e.g. a 400 of Nova's response
        # validation), the server decides without the figures.
        self.figures = sources.FiguresSource(gateway, request.server_id,
                                             request.label)
        self._last_status = None
        self._server_check_interval = (tuning.SERVER_CHECK_POLLS
                                       * settings.poll_interval_max)
        self._server_read_at = clock()
        self._checked_at = clock()
        self._progress_at = 0.0
        self._queued_since = None
        self._started_at = clock()
        # clock() at which the current wait ends (``wait_ends``).
        self._wait_ends_at = None
        self.latest = Progress(phase='not started')

    @property
    def migration_id(self):
        """The id of our migration record, None until it is known."""
        return self._migration_id

    @migration_id.setter
    def migration_id(self, value):
        known = value is not None and value != self._migration_id
        self._migration_id = value
        if known and self.on_record is not None:
            self.on_record(value)

    # -- which migration is ours ------------------------------------------

    def _ours(self, migrations):
        if self.migration_id is not None:
            for migration in migrations:
                if migration.id == self.migration_id:
                    return migration
            return None
        for migration in migrations:  # newest first
            if not self._created_since_start(migration):
                break
            if migration.migration_type in (None, self._record_type) and \
                    self._from_our_source(migration):
                self.migration_id = migration.id
                return migration
        return None

    def _created_since_start(self, migration):
        """Whether the record can have been created by our request.

        Ours is created after we asked for the move (Nova's clocks and
        ours agree within slack) and after the server last changed before
        it: an earlier move of the same server ended, and so changed the
        server, after its own record was created.
        """
        created, _fine = end_prediction.parse_nova_time(migration.created_at)
        return created is None or created >= self._not_before

    @property
    def _not_before(self):
        floor = self._started_wall - tuning.CLOCK_SLACK
        if self._server_updated is not None:
            floor = max(floor, self._server_updated)
        return floor

    def _from_our_source(self, migration):
        # A move just before ours of the same server started elsewhere
        # (it brought the server here) unless it failed.
        return migration.source_compute in (None, self._source) \
            or self._source is None

    def look(self, with_server=None):
        """Read our migration and, when it matters, the server.

        A running live migration is read through the server's migrations
        API, which also gives its progress figures; anything else through
        /os-migrations. The server is read when the migration is not in
        progress (its status then decides the answer) or at least every
        SERVER_CHECK_POLLS * poll_interval_max seconds (to notice a deleted
        or failed server), unless ``with_server`` forces the choice.
        """
        migration = None
        if self._last_status in phases.LIVE_RUNNING_READABLE and \
                self.request.live and not self.figures.broken:
            migration = self.figures.record(self.migration_id)
        if migration is None:
            migration = self._ours(
                self.gateway.list_migrations(self.request.server_id))
        self._last_status = migration.status if migration else None
        now = self.clock()
        if with_server is None:
            with_server = (migration is None
                           or migration.status not in self._in_progress
                           or now - self._server_read_at
                           >= self._server_check_interval)
        server = None
        gone = False
        if with_server:
            server, gone = self._server_read.look()
            self._server_read_at = self._checked_at = now
        return Look(migration=migration, server=server, server_gone=gone,
                    at=now)

    # -- starting a move --------------------------------------------------

    def begin(self, source):
        """The move from ``source`` is about to be requested."""
        self._started_at = self.clock()
        self._started_wall = self.wall()
        self._source = source

    def resume(self, source, migration_id, started_wall):
        """Follow a move another process started (after ``watch``).

        :param migration_id: its record's id, None if it never learned it
        :param started_wall: when it was about to send the move request
        """
        self._source = source
        self._started_wall = started_wall
        # The server changed during the move, after its record was made:
        # that change is no floor for which record is ours.
        self._server_updated = None
        self._migration_id = migration_id

    def sent(self, at, request_id=None):
        """The move request sent at ``at`` was answered at once.

        Only such a request times Nova's start lag.

        :param request_id: the id Nova gave it, None if unknown
        """
        self._move_sent_at = at
        self.requested(request_id)

    def requested(self, request_id):
        """Nova accepted our request ``request_id`` (a move, a confirm).

        Nova's notifications of its landing carry the id: believed, they
        need no read (``notification_source.believed``).
        """
        if self._notices is not None:
            self._notices.own_request(request_id)

    def moved(self):
        """The move ended on its destination (before ``unwatch``)."""
        if self._notices is not None:
            self._notices.note_end()

    def move_visible(self):
        """Whether a move of ours is visibly under way or done."""
        look = self.look(with_server=True)
        if look.migration is not None:
            return True
        if look.server is None:
            return False
        return (look.server.task_state in phases.MOVE_TASK_STATES
                or look.server.host != self._source)

    # -- the shared view of the server -----------------------------------

    def watch(self, server):
        """Follow the server through the process's shared feeds.

        :param server: the ServerView the action last read
        """
        self._server_updated, _fine = end_prediction.parse_nova_time(
            server.updated)
        # Nova's events, when the process hears them, come first: they
        # say when to look (see notification_source).
        listener = self._context.notification_listener(self.settings)
        if listener is not None:
            self._notices = notification_source.NotificationSource(
                listener, self.request.server_id, self.wake,
                self.request.label, since=lambda: self._started_wall,
                clock=self.clock)
            self.server_sources.insert(0, self._notices)
        if not self.settings.shared_tracking or not self.gateway.endpoint:
            return
        min_gap = self.settings.poll_interval_min
        label = self.request.label
        # A server feed Nova refuses takes the record feed with it.
        self._server_feed = sources.ServerFeedSource(
            self._context.feeds.feed_for(self.gateway.endpoint, min_gap),
            self.gateway.list_changed_servers, self.request.server_id,
            server, self.wake, label, since=lambda: self._started_at,
            on_broken=self._unwatch_records)
        self.server_sources.insert(
            self.server_sources.index(self._server_read), self._server_feed)
        if self.request.live and self.gateway.supports(
                nova_gateway.CHANGED_MIGRATIONS_MICROVERSION):
            self._record_source = sources.FeedSource(
                self._context.feeds.feed_for(
                    self.gateway.endpoint, min_gap,
                    kind=change_feed.MigrationFeed),
                self.gateway.list_changed_live_migrations, 'migration',
                self.request.server_id, None, self.wake, label,
                on_broken=self._unwatch_records)

    def unwatch(self):
        for source in self.server_sources:
            source.close()
        self._unwatch_records()

    def _unwatch_records(self):
        if self._record_source is not None:
            self._record_source.close()
            self._record_source = None

    def interrupt(self):
        """End the current sleep between looks (abort, shutdown)."""
        self.wake.set()

    def live_schedule(self, timeout=None):
        """The schedule of looks at a live migration, made once.

        :param timeout: seconds from now the move may take: a copy
            predicted to end later has stalled
        :returns: (the schedule, the delay before its first look)
        """
        first = max(min(tuning.FIRST_LOOK,
                        tuning.FIRST_LOOK_FLOORS
                        * self.settings.poll_interval_min),
                    self._start_lag.seconds, self.heard_first_delay())
        if self.schedule is None:
            predictor = end_prediction.EndPredictor()
            watch = convergence.ConvergenceWatch(
                self.settings.live_migration_stall_window,
                deadline=(None if timeout is None
                          else self._wall_now() + timeout),
                predictor=predictor)
            self.schedule = self.heard(end_prediction.LiveSchedule(
                self.settings.poll_interval_min,
                self.settings.poll_interval_max, wall=self.wall,
                predictor=predictor, lag=self._context.finish_lag,
                start=first, watch=watch, pace=self._context.copy_pace))
        return self.schedule, first

    def stalled(self):
        """A ``convergence.Stall`` once the copy's figures say so; or None."""
        if self.schedule is None or self.schedule.watch is None:
            return None
        return self.schedule.watch.verdict()

    def _wall_now(self):
        # As _progress_of: not asking the wall clock again.
        return self._started_wall + (self.clock() - self._started_at)

    def heard(self, schedule):
        """``schedule``, paused while Nova's events of the move are heard."""
        if self._notices is None:
            return schedule
        return notification_source.HeardSchedule(
            schedule, self._notices, self.settings.notification_check_interval)

    def heard_first_delay(self):
        """Seconds the first look may wait for the move's first event.

        Unless a move of the process went unheard, the move's events will
        come: its first event (or a failure's) wakes the action, and
        until the server check interval nothing else is worth a request.
        """
        if self._notices is None or not self._notices.expected:
            return 0.0
        return self._server_check_interval

    @property
    def followed_by(self):
        """How the move was followed, for the log: events or polling.

        None without a listener (polling is then all there is).
        """
        notices = self._notices
        if notices is None:
            return None
        if notices.early_seen:
            return "heard from Nova's notifications"
        return 'followed by polling: no notification of it was heard'

    def wait_ends(self, at):
        """The current wait ends at clock() ``at``.

        Its look then reads Nova even while the move is heard: the
        verdict of a timeout (abort, revert) must not rest on events,
        one of which may have been lost.

        :returns: ``at``, the wait's deadline
        """
        self._wait_ends_at = at
        return at

    def quiet_look(self):
        """While the move's events are heard, a look that reads nothing.

        :returns: a Look of what was last seen; None when a read is due
            (news to confirm, notification_check_interval passed, or the
            wait's end reached)
        """
        notices = self._notices
        now = self.clock()
        if notices is None or not notices.hearing or notices.has_news() \
                or now - self._server_read_at \
                >= self.settings.notification_check_interval \
                or (self._wait_ends_at is not None
                    and now >= self._wait_ends_at):
            return None
        return Look(migration=self._last_record, at=self.clock())

    def follow_look(self):
        """A look at a cold migration under way (quiet while heard)."""
        quiet = self.quiet_look()
        return quiet if quiet is not None else self.server_look()

    def server_look(self, max_age=0.0, may_check=True):
        """The server as it is now; the migration as last read.

        :param max_age: a routine look accepts the shared feed's request
            of another action begun that long ago
        :param may_check: False for a look at the expected end, which must
            not wait for a check (the next look makes it)
        """
        # A shared list can miss a change for good: Nova leaves out of its
        # lists, silently, a cell that does not answer in time. So every
        # server check interval the look must prove the server's state:
        # by a roll call of the shared feed, or by reading it alone.
        check = may_check and (self.clock() - self._checked_at
                               >= self._server_check_interval)
        asked = self.server_sources
        if self._notices is not None and self._notices.has_news():
            landing = self._notices.landing(self._source,
                                            self.request.destination_node)
            self._notices.look()
            if landing is not None:
                return Look(migration=self._last_record, server=landing,
                            at=self.clock())
            # Other news is confirmed by the server read alone, begun now:
            # the shared feed would first wait out its request in flight,
            # begun before the event, then make one more.
            asked = [self._server_read]
        for source in asked:
            # The look is as of the request of the source that answers.
            now = self.clock()
            seen = source.look(max_age, check=check)
            if seen is not None:
                break
        server, gone = seen
        self._server_read_at = now
        if check:
            self._checked_at = now
        if self._notices is not None and self._notices.has_news():
            # An event came during the read, whose source cleared the
            # wake: the next sleep must not hide it.
            self.wake.set()
        return Look(migration=self._last_record, server=server,
                    server_gone=gone, at=now)

    def live_look(self):
        """A look at a live migration: its record, figures or the server.

        The server's migrations in progress are read (they carry the
        figures) until the copy's end is predictable; while one such read
        showed the copy not begun, the shared feed of migration records
        says when it begins. A record no longer running hands over to the
        server, which is what decides and is read through the shared feed.
        """
        schedule = self.schedule
        # Once the stall window has ended, the figures are read even when
        # the check is due, news came or the move is heard: they alone say
        # whether the copy still converges (no event says it), and the
        # next look sees the server.
        stall_due = schedule.stall_check_due() and not self.figures.broken
        quiet = None if stall_due else self.quiet_look()
        if quiet is not None:
            return quiet
        # When the periodic check of the server (deleted, ERROR) is due,
        # the server is looked at; routinely, unless this is the look at
        # the predicted end, which must see Nova as it is now, or one for
        # a landing overdue, which must see it as it was a moment ago.
        check_due = self.clock() - self._server_read_at \
            >= self._server_check_interval
        # Woken by the shared feed with news of the server: the news
        # decides, at no cost; the figures can wait for their time.
        news = any(source.has_news() for source in self.server_sources)
        if schedule.wants_figures() and \
                (stall_due or not (check_due or news)) and \
                not self.figures.broken:
            if self._record_source is not None and not stall_due and \
                    self._last_status not in ('running', 'post-migrating') \
                    and self._server_feed.subscribers > 1:
                # Until the copy has begun, the shared listing says when:
                # one request for every action. Alone, the action reads
                # its figures: the read that finds the copy begun is the
                # first figure, where the listing would need one more.
                look = self._record_look()
                if look is not None:
                    return look
            self._figure_reads += 1
            records = self.figures.look()
            if records is None:
                return self.server_look()
            ours = self._ours_in_progress(records)
            self._judge_start(ours)
            read_at = self._wall_now()
            schedule.predictor.add(ours, read_at)
            if schedule.watch is not None:
                schedule.watch.add(ours, read_at)
            if ours is not None:
                self._remember_record(ours)
                if ours.status == 'running':
                    # The listing is no use once the copy runs, and each
                    # new figure in it would wake this action for nothing.
                    self._unwatch_records()
                if ours.status != 'post-migrating':
                    if self._notices is not None and self._notices.hearing:
                        # Heard, the copy seen going on is the check: an
                        # end Nova did not announce shows as no record.
                        self._server_read_at = self.clock()
                    return Look(migration=ours, at=self.clock())
            # The copy is over: the landing is due.
            return self.server_look(may_check=False)
        if schedule.urgent:
            return self.server_look(0.0, may_check=False)
        if schedule.late:
            return self.server_look(min(tuning.ENDING_LATE_AGE,
                                        self._routine_age), may_check=False)
        return self.server_look(self._routine_age)

    def _record_look(self):
        """Our record through the shared feed, while the copy has not begun.

        :returns: a Look while the migration waits to copy; None once it
            runs (its figures are read next); the server's look once the
            record says the copy is over
        """
        seen = self._record_source.look(self._routine_age)
        if seen is None:
            return None
        view, _gone = seen
        records = sorted((view or {}).values(), key=lambda r: r.id,
                         reverse=True)
        ours = self._ours(records)
        if ours is None:
            return Look(at=self.clock())
        # A shared listing may be older than the request of the action:
        # only the action's own read teaches the start lag.
        self._start_judged = True
        self._remember_record(ours)
        if ours.status == 'running':
            return None
        if ours.status in phases.LIVE_IN_PROGRESS and \
                ours.status != 'post-migrating':
            return Look(migration=ours, at=self.clock())
        return self.server_look()

    def _judge_start(self, record):
        """Teach the process's start lag by our reads until the copy runs.

        Each read that finds the copy not begun moves the lag past its
        time; a first read that finds it begun lets the lag shrink.
        ``record`` None: the server's migrations in progress do not list
        ours yet, so Nova has only accepted it. Queued is left out: it is
        a wait for a free slot on the host, not the time Nova takes to
        begin.
        """
        if self._start_judged or self._move_sent_at is None:
            return
        after = self.clock() - self._move_sent_at
        if record is None:
            if self.migration_id is None:
                self._start_lag.not_begun(after)
            return
        if record.status == 'queued':
            return
        if record.status in phases.NOT_BEGUN:
            self._start_lag.not_begun(after)
            return
        self._start_judged = True
        if record.status in phases.BEGUN and self._figure_reads == 1:
            self._start_lag.begun()

    def _remember_record(self, record):
        self._last_record = record
        self._last_status = record.status

    def _ours_in_progress(self, records):
        for record in records:  # newest first
            if self.migration_id is not None:
                if record.id == self.migration_id:
                    return record
            elif self._from_our_source(record) and \
                    self._created_since_start(record):
                self.migration_id = record.id
                return record
        return None

    def final_record(self):
        """Our migration record, read now (for why a move ended)."""
        record = self._ours(self.gateway.list_migrations(
            self.request.server_id))
        if record is not None:
            self._remember_record(record)
        return record

    def completed(self):
        """Record in ``latest`` that the migration ended well."""
        self.latest = dataclasses.replace(
            self.latest, phase=phases.COMPLETED,
            percent=100 if self.latest.percent is not None else None,
            memory_processed_bytes=self.latest.memory_total_bytes,
            elapsed=self.clock() - self._started_at)

    def through_outages(self, look):
        """``look`` made to see nothing, not fail, while Nova is down.

        An API outage longer than the retry budget does not end a wait:
        the migration goes on in Nova, so it is followed until the
        deadline, and the decisions see empty looks meanwhile.
        """
        def tolerant():
            try:
                return look()
            except exceptions.NovaUnavailable as e:
                LOG.warning('Server %s: %s; still following migration %s',
                            self.request.label, e, self.migration_id)
                self._last_status = None
                return Look(at=self.clock())
        return tolerant

    def log_progress(self, look):
        """Log at INFO every progress_interval: phase, progress, elapsed."""
        migration = look.migration
        now = self.clock()
        if migration is not None and migration.status == 'queued':
            if self._queued_since is None:
                self._queued_since = now
        elif self._queued_since is not None:
            LOG.info('Server %s: migration %s waited %.1f s queued for a '
                     'nova-compute live migration slot',
                     self.request.label, migration and migration.id,
                     now - self._queued_since)
            self._queued_since = None
        self.latest = self._progress_of(look, now)
        if now - self._progress_at < self.settings.progress_interval:
            return
        self._progress_at = now
        progress = self.latest
        details = ''
        if progress.memory_total_bytes:
            details = ', memory %d%% (%d of %d MiB copied)' % (
                progress.percent, progress.memory_processed_bytes >> 20,
                progress.memory_total_bytes >> 20)
        elif progress.percent is not None:
            details = ', %s%%' % progress.percent
        details += ', %.0f s elapsed' % progress.elapsed
        LOG.info('Server %s: %s migration %s is %s%s',
                 self.request.label, self.request.migration_type,
                 migration.id if migration else '(not yet recorded)',
                 progress.phase, details)

    def _progress_of(self, look, now):
        migration = look.migration
        total = migration.memory_total_bytes if migration else None
        processed = (migration.memory_processed_bytes or 0) if total else 0
        if total:
            percent = 100 * processed // total
        elif look.server is not None and look.server.progress:
            percent = look.server.progress
        else:
            percent = None
        phase = look.status or (look.server is not None
                                and look.server.task_state) or 'starting'
        figures_at = None
        if total:
            figures_at, _fine = end_prediction.parse_nova_time(
                migration.updated_at)
        predictor = self.schedule.predictor if self.schedule else None
        return Progress(phase=phase, percent=percent,
                        memory_processed_bytes=processed,
                        memory_total_bytes=total or 0,
                        elapsed=now - self._started_at,
                        figures_at=figures_at,
                        copy_rate=predictor.rate() if predictor else None,
                        # Without asking the wall clock again: a call
                        # each look would shift fake clocks in tests.
                        read_at=self._started_wall
                        + (now - self._started_at))

    # -- verdicts ---------------------------------------------------------

    def describe(self, look):
        """Nova's own words on the state of the move, for messages."""
        parts = []
        if look.migration is not None:
            parts.append('migration %s is %r'
                         % (look.migration.id, look.migration.status))
        if look.server_gone:
            parts.append('the server no longer exists')
        elif look.server is not None:
            parts.append('server is %s on %s' % (look.server.status,
                                                 look.server.host))
            if look.server.task_state:
                parts.append('task %s' % look.server.task_state)
            if look.server.fault:
                parts.append('Nova fault: %s' % look.server.fault)
        return '; '.join(parts)
