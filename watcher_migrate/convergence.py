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

"""Whether a live migration's copy still converges, from Nova's figures.

A guest that dirties its memory as fast as it is copied never lets the
copy end: Nova's memory remaining stops falling while memory processed
keeps growing. ``ConvergenceWatch`` judges the figures of the reads the
tracker makes: the copy has stalled when the remaining memory has set no
new low (by STALL_MIN_FALL) over the stall window (libvirt's remaining
memory rises at each new pass of the copy, so only a new low is
progress), or when the rate of a steady fall predicts an end past the
move's deadline. Its ``Stall`` says so with the figures, for the
action's message.
"""

import dataclasses

from watcher_migrate import end_prediction
from watcher_migrate import tuning

GIB = 1 << 30
MIB = 1 << 20


def size(count):
    """Bytes for people: '3.1 GiB' from 1 GiB, else '40 MiB'."""
    if count >= GIB:
        return '%.1f GiB' % (count / GIB)
    return '%.0f MiB' % (count / MIB)


@dataclasses.dataclass(frozen=True)
class Reading:
    """One read of a running migration's memory figures.

    ``read_at``: our wall time of the read; ``nova_at``: Nova's time of
    the figures (the record's updated_at), which times the rates.
    """

    read_at: float
    nova_at: float
    remaining: int
    processed: int = None


@dataclasses.dataclass(frozen=True)
class Stall:
    """A copy that will not end in time, and why, in Nova's figures."""

    reason: str


class ConvergenceWatch(object):
    """Judges from a live migration's reads whether its copy stalled.

    :param window: seconds the remaining memory may go without a new low
        (``live_migration_stall_window``); 0 judges nothing
    :param deadline: wall time at which the move's timeout expires, or
        None
    :param predictor: the schedule's ``EndPredictor`` (its rate and end)
    """

    def __init__(self, window, deadline=None, predictor=None):
        self.window = window
        self.deadline = deadline
        self.predictor = predictor or end_prediction.EndPredictor()
        self._low = None        # the reading that set the lowest remaining
        self._latest = None
        self._running = False

    def add(self, migration, at):
        """Take the record of a read made at wall time ``at``.

        :param migration: the migration in progress; None once none is
        """
        self._running = migration is not None and \
            migration.status == 'running'
        if not self._running or not self.window or \
                migration.memory_remaining_bytes is None or \
                not migration.memory_total_bytes:
            return
        nova_at, _fine = end_prediction.parse_nova_time(migration.updated_at)
        if nova_at is None:
            return
        reading = Reading(at, nova_at, migration.memory_remaining_bytes,
                          migration.memory_processed_bytes)
        self._latest = reading
        if self._low is None or reading.remaining < self._low.remaining * (
                1 - tuning.STALL_MIN_FALL):
            self._low = reading

    def check_at(self):
        """Wall time a read must come to judge the window; None: none."""
        if not self.window or not self._running or self._low is None:
            return None
        return self._low.read_at + self.window

    def late_unconfirmed(self):
        """Whether the rate predicts an end past the deadline, unconfirmed.

        Two figures give a rate but not a steady fall (they may span two
        passes of the copy): the next figure Nova saves may make the
        verdict, so the schedule reads it as soon as it can be there.
        """
        if not self.window or not self._running or self.deadline is None:
            return False
        end = self.predictor.end()
        return end is not None and end > self.deadline and \
            not self.predictor.steady

    def verdict(self):
        """A ``Stall`` once the figures say the copy will not end; or None."""
        if not self.window or not self._running or self._latest is None:
            return None
        late = self._predicted_late()
        if late is not None:
            return late
        low, latest = self._low, self._latest
        stalled_for = latest.read_at - low.read_at
        if stalled_for < self.window:
            return None
        return Stall('remaining %s or more for %.0f s, %s' % (
            size(low.remaining), stalled_for, self._rates(low, latest)))

    def _predicted_late(self):
        end = self.predictor.end()
        if end is None or self.deadline is None or end <= self.deadline \
                or not self.predictor.steady:
            return None
        return Stall(
            'remaining %s, falling %s/s: the copy would end in %.0f s, '
            '%.0f s past the deadline' % (
                size(self._latest.remaining), size(self.predictor.rate()),
                end - self._latest.nova_at, end - self.deadline))

    @staticmethod
    def _rates(low, latest):
        """What Nova's figures say of the copy between two readings."""
        span = latest.nova_at - low.nova_at
        if span < tuning.MIN_SPAN:
            # Nova rewrites a record only when a figure changed.
            return 'Nova\'s figures unchanged (nothing copied)'
        if low.processed is None or latest.processed is None:
            return ('Nova gives no memory processed: the rates of copying '
                    'and dirtying are unknown')
        copied = (latest.processed - low.processed) / span
        # What was copied but is still to copy was dirtied again.
        dirtied = copied + (latest.remaining - low.remaining) / span
        return 'copying %s/s against %s/s dirtied' % (size(copied),
                                                      size(dirtied))
