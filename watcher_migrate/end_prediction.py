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

"""When a live migration will end, and so when to look at it.

Nova reports a running live migration's memory figures with the time it
wrote them (the record's ``updated_at``). Two such points give the copy
rate, hence the moment the copy ends; the server then lands on the
destination after Nova's post-copy steps, a lag this process learns from
the migrations it has followed. ``LiveSchedule`` turns that into as few
looks as possible: figures when Nova can have saved new ones until the
end is known (``CopyPace``: libvirt saves them every 5 s by default),
one look when it is due, and backoff where Nova gives no figures.
"""

import datetime
import threading

from watcher_migrate import tuning
from watcher_migrate import waiting


def parse_nova_time(text):
    """Nova's ISO 8601 UTC timestamp -> (epoch seconds, has fractions)."""
    if not text:
        return None, False
    text = text.rstrip('Z')
    if '+' in text[10:]:
        text = text[:10] + text[10:].split('+', 1)[0]
    for layout in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            moment = datetime.datetime.strptime(text, layout)
        except ValueError:
            continue
        moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp(), moment.microsecond != 0
    return None, False


class FinishLag(object):
    """Seconds from the predicted end of the copy to the server's landing.

    Learned per process: a look that came too early lengthens it, one that
    found the server already landed shortens it, so it settles where the
    first look after the copy usually finds the migration done.
    """

    def __init__(self, initial=tuning.FINISH_LAG_INITIAL,
                 low=tuning.FINISH_LAG_LOW, high=tuning.FINISH_LAG_HIGH):
        self._lock = threading.Lock()
        self.seconds = initial
        self.low = low
        self.high = high

    def too_early(self):
        with self._lock:
            self.seconds = min(self.high,
                               self.seconds * tuning.FINISH_LAG_GROWTH
                               + tuning.FINISH_LAG_STEP)

    def in_time(self):
        with self._lock:
            self.seconds = max(self.low,
                               self.seconds * tuning.FINISH_LAG_SHRINK)


class StartLag(object):
    """Seconds from a live move request until Nova runs its copy.

    Learned per process, so that the first look at a live migration comes
    when its copy has usually begun: a look before finds it accepted or
    preparing, which decides nothing and costs a request. A first look
    that found the copy not begun after t seconds moves the lag past t;
    one that found it begun lets it shrink slowly, to follow a Nova that
    got faster. Unknown (0) at first: the first look comes at
    ``tuning.FIRST_LOOK``.
    """

    def __init__(self, high=tuning.START_LAG_MAX):
        self._lock = threading.Lock()
        self.seconds = 0.0
        self.high = high

    def not_begun(self, after):
        with self._lock:
            self.seconds = min(self.high, max(
                self.seconds, after * tuning.START_LAG_MARGIN))

    def begun(self):
        with self._lock:
            self.seconds *= tuning.START_LAG_SHRINK


class CopyPace(object):
    """What the process learned of Nova's live copies: its priors.

    - ``cadence``: seconds between two saves of a copy's figures (libvirt:
      ``[libvirt] live_migration_monitor_interval``), the shortest the
      last landed copy showed, so that figures are read when newer ones
      can be there and not before. Until a copy landed, libvirt's default
      (``tuning.FIGURES_CADENCE_INITIAL``). Our reads bound it from
      above: a Nova saving more often than that is taken to save at that
      spacing, which costs nothing but figures read less often than they
      could be.
    - ``rate``: bytes per second the last landed copy moved, so that a
      copy with one figure yet has an end to look at when that comes
      before its next figure (a short copy). From the copy's figures when
      it had two; from its one figure and its landing otherwise, the
      landing taken halfway between the last look that did not see it
      and the one that did: a guess that came late puts the next one
      earlier, one that came early is followed by looks close together,
      so the guesses settle near the landing. None until a copy landed.

    A copy's own figures always win over these.
    """

    def __init__(self, cadence=tuning.FIGURES_CADENCE_INITIAL):
        self._lock = threading.Lock()
        self.cadence = cadence
        self.rate = None

    def landed(self, predictor, after=None, by=None, lag=0.0):
        """Learn from a copy that landed.

        :param after: wall time of the last look that found it not landed;
            None when no look came between (the first look found it
            landed, or Nova's event said so): the landing is taken at
            ``by`` then
        :param by: wall time of the look that found it landed
        :param lag: the finish lag: the landing comes that long after the
            end of the copy
        """
        rate = predictor.rate()
        if rate is None and predictor.readings == 1 and by is not None:
            at, remaining = predictor.last
            after = by if after is None else max(after, at)
            copying = (after + by) / 2 - lag - at
            if remaining and copying > 0:
                rate = remaining / copying
        with self._lock:
            if predictor.spacing is not None:
                self.cadence = predictor.spacing
            if rate is not None:
                self.rate = rate


class EndPredictor(object):
    """The predicted wall time at which a live migration's copy ends."""

    def __init__(self):
        self._points = []
        self.precise = True
        self.figures_missing = False
        # Running records seen without figures: Nova marks the record
        # running before the driver's copy saves its first figures, so
        # only a second such reading says that the driver saves none.
        self._bare_readings = 0
        # Nothing left to copy: Nova is finishing, new figures say nothing.
        self.copied = False
        # The shortest time between two of the copy's figures read.
        self.spacing = None
        # Wall time of the last reading, new or not: the live and the
        # heard schedules time the next read from it.
        self.read_at = None

    def add(self, migration, at=None):
        """Take a reading of the migration record; True if it was new.

        :param migration: the record read; None when none is in progress
        :param at: our wall time of the read (Nova's time of the figures
            is the record's ``updated_at``)
        """
        self.read_at = at
        if migration is None:
            return False
        if migration.status == 'post-migrating':
            # The copy is over; Nova's figures say nothing more.
            self.copied = True
            return False
        if migration.status != 'running':
            return False
        if not migration.memory_total_bytes or \
                migration.memory_remaining_bytes is None:
            self._bare_readings += 1
            self.figures_missing = self._bare_readings > 1
            return False
        saved_at, fine = parse_nova_time(migration.updated_at)
        if saved_at is None:
            self.figures_missing = True
            return False
        if self._points and saved_at <= self._points[-1][0]:
            return False
        self.precise = self.precise and fine
        self.copied = migration.memory_remaining_bytes == 0
        if self._points:
            gap = saved_at - self._points[-1][0]
            self.spacing = gap if self.spacing is None else min(
                self.spacing, gap)
        self._points.append((saved_at, migration.memory_remaining_bytes))
        del self._points[:-3]
        return True

    @property
    def readings(self):
        return len(self._points)

    @property
    def last(self):
        """(Nova time, bytes remaining) of the newest figure, or None."""
        return self._points[-1] if self._points else None

    @property
    def steady(self):
        """Whether the last three readings fell, each below the one before.

        A rate from two readings may span two passes of the copy (the
        remaining memory rises at each): only a steady fall says how the
        copy goes on.
        """
        return len(self._points) == 3 and all(
            later[1] < earlier[1]
            for earlier, later in zip(self._points, self._points[1:]))

    def rate(self):
        """Bytes the copy moves per second, or None until known."""
        if len(self._points) < 2:
            return None
        (t0, r0), (t1, r1) = self._points[0], self._points[-1]
        if t1 - t0 < tuning.MIN_SPAN or r1 >= r0:
            return None
        return (r0 - r1) / (t1 - t0)

    def end(self):
        """Predicted wall time of the end of the copy, or None."""
        rate = self.rate()
        if rate is None:
            return None
        t1, r1 = self._points[-1]
        return t1 + r1 / rate


class LiveSchedule(object):
    """Which look comes next for a live migration, and when.

    ``wants_figures()`` says whether the next look reads the migration's
    progress figures (per server) or the server (through the shared
    feed); ``next_delay(look)`` how long to sleep before it.
    """

    def __init__(self, floor, cap, wall, predictor=None, lag=None,
                 start=None, watch=None, pace=None):
        self.floor = floor
        self.cap = max(cap, floor)
        self.wall = wall
        self.predictor = predictor or EndPredictor()
        # The convergence.ConvergenceWatch judging the same reads, if any:
        # a copy predicted to end after its stall window is read at the
        # window's end, to see whether it still makes progress.
        self.watch = watch
        # The process's FinishLag (its context's); a lag of its own alone.
        self.lag = lag or FinishLag()
        # The process's CopyPace: when the next figure can be there, and a
        # prior rate for a copy with one figure.
        self.pace = pace or CopyPace()
        # Before the copy runs, looks back off from here (the first look's
        # delay): queued and preparing can last, and decide nothing.
        self.start = max(floor, start or floor)
        # Between the looks at the predicted end, the same backoff as
        # every other wait, each phase starting from its own interval.
        self._backoff = waiting.PollSchedule(floor, cap)
        self._target = None     # the wall time of the look at the end
        self._overdue = False   # the look at the end came too early
        self._ending_since = None   # wall time the end became due
        self._looked_at = None      # wall time of the last look undecided
        # The next look is meant for the predicted end (or just after it):
        # it must see Nova as it is then, not share an older request.
        self.urgent = False
        # The next look is for a landing late past the urgent looks: a
        # shared request at most ENDING_LATE_AGE old will do.
        self.late = False

    def wants_figures(self):
        if self.predictor.figures_missing or self.predictor.copied:
            return False
        if self.stall_check_due():
            return True
        if self.predictor.end() is None:
            # Until Nova can have saved newer figures, a read would show
            # the same: once the process knows how its copies go, the
            # looks between see the server instead.
            return self._figures_may_be_new(self.wall())
        # Late past its end, the copy may be slower than predicted: its
        # figures say until when, once Nova can have saved new ones (it
        # saves none at the copy's end: each read is a cadence apart).
        now = self.wall()
        confirm = self.confirmation_at()
        if confirm is not None and now >= confirm:
            return True
        return self._overdue and self._ending_since is not None and \
            now - self._ending_since >= tuning.FIGURES_AGAIN_AFTER and \
            now >= self._figures_due() and (
                self.predictor.read_at is None
                or now - self.predictor.read_at >= self._cadence())

    def stall_check_due(self):
        """Whether the stall window has ended since the copy's best figure.

        The look then must read the figures, whatever else it could do:
        they alone say whether the copy still converges.
        """
        check = self.watch.check_at() if self.watch is not None else None
        return check is not None and self.wall() >= check

    def next_delay(self, look):
        self.urgent = self.late = False
        now = self.wall()
        self._looked_at = now
        if self._target is not None and now >= self._target - self.floor:
            # The look meant for the end (a feed's news may wake it a
            # little early) found the migration still going.
            self._target = None
            self._overdue = True
            self.lag.too_early()
        end = self.predictor.end()
        if end is None:
            if self.predictor.readings == 0:
                return self._backoff.backoff('not copying', self.start)
            return self._between_figures(now)
        if self.predictor.precise:
            target = end + self.lag.seconds
        else:
            target = end - tuning.COARSE_MARGIN * max(0.0, end - now)
        if target - now <= self.floor:
            # Due now: look soon and, if still copying, refine the figures.
            if self._ending_since is None:
                self._ending_since = now
            late_for = now - self._ending_since
            if late_for < tuning.ENDING_URGENT:
                self.urgent = True
                return min(self._backoff.backoff('ending', self.floor),
                           max(self.floor, tuning.ENDING_INTERVAL))
            if late_for < tuning.ENDING_LATE_WATCH:
                self.late = True
                return min(self._backoff.backoff('ending late',
                                                 tuning.ENDING_INTERVAL),
                           max(self.floor, tuning.ENDING_LATE_CAP))
            return self._backoff.backoff(
                'ending very late', min(self.cap, tuning.ENDING_LATE_CAP))
        self._ending_since = None
        self._overdue = False
        self._backoff.reset()
        self._target = target
        delay = target - now
        self.urgent = delay <= tuning.MAX_CAPS * self.cap
        delay = min(delay, tuning.MAX_CAPS * self.cap)
        check = self.watch.check_at() if self.watch is not None else None
        if check is not None and check - self.floor - now <= delay:
            # The end of the stall window comes first: the look then (in
            # place of the one between, at a long copy's cadence) tells
            # whether the copy still converges.
            self.urgent = False
            delay = max(self.floor, min(delay, check - now))
        confirm = self.confirmation_at()
        if confirm is not None and confirm - now < delay:
            # Sooner than the stall window's end: a copy too slow for its
            # timeout is stopped once Nova's next figure confirms it.
            self.urgent = False
            delay = max(self.floor, confirm - now)
        return delay

    def confirmation_at(self):
        """Wall time of the read that may confirm a late end; or None.

        While the rate predicts an end past the move's deadline but the
        fall is not yet steady (convergence), the next figure decides:
        it is read when Nova can have saved it. A read then that found
        none newer is tried again backing off from the floor, up to the
        cadence (Nova's monitor loop may save it a little late).
        """
        if self.watch is None or not self.watch.late_unconfirmed():
            return None
        due = self._figures_due()
        read = self.predictor.read_at
        if read is None or read < due:
            return due
        return read + min(self._cadence(), max(self.floor, read - due))

    def _figures_due(self):
        """Wall time at which Nova can have saved newer figures, or None."""
        last = self.predictor.last
        if last is None:
            return None
        slack = tuning.FIGURES_SAVE_SLACK
        if not self.predictor.precise:
            slack += 1.0    # a whole-second stamp: saved up to 1 s later
        return last[0] + self._cadence() + slack

    def _figures_may_be_new(self, now):
        """Whether a read now may find figures newer than the last read."""
        due = self._figures_due()
        return due is None or now >= due

    def _cadence(self):
        return self.predictor.spacing or self.pace.cadence

    def _between_figures(self, now):
        """The delay while the copy runs with no rate of its own yet.

        One figure (the next makes the rate), or no progress. The figures
        are read again when Nova can have saved new ones (a read then that
        found none backs off). Before that, the server is looked at when
        the process's prior rate says the copy ends: a copy shorter than
        the cadence ends before its next figure. Without a prior (the
        process's first copy) nothing says when a short copy ends: the
        next figure's read, which finds the copy over, does; a look
        between would cost every longer first copy a request.
        """
        if self._figures_may_be_new(now):
            return self._backoff.backoff(
                'copying', max(self.floor, tuning.FIGURES_RETRY))
        due = self._figures_due()
        until_due = max(self.floor, due - now)
        if self.pace.rate is None:
            return until_due
        at, remaining = self.predictor.last
        target = at + remaining / self.pace.rate + self.lag.seconds
        if target >= due:
            return until_due
        if target - now > self.floor:
            # A guess, not a prediction: it teaches the lag nothing.
            self.urgent = True
            return target - now
        return min(until_due, self._backoff.backoff(
            'ending as the prior says', max(self.floor,
                                            tuning.ENDING_INTERVAL)))

    def landed(self, at):
        """The server was seen on the destination at wall time ``at``."""
        self.pace.landed(self.predictor, after=self._looked_at, by=at,
                         lag=self.lag.seconds)
        if self._target is None and not self._overdue:
            return
        if self._target is not None and at >= self._target:
            self.lag.in_time()
