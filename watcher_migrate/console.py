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

"""What the command-line tool shows: tables, live progress, log lines.

On a terminal the progress of the running actions is redrawn in place about
once a second, and log records are printed above it; anywhere else (a pipe,
a file, CI) each change is one plain, timestamped line, so the output reads
as a log.
"""

import logging
import math
import threading
import time

from watcher_migrate import phases
from watcher_migrate import plan_runner
from watcher_migrate import tuning

MIB = 1 << 20


_UP_AND_CLEAR = '\x1b[%dF\x1b[J'

# Phases in which the action, not Nova, is next to act.
_NOT_WAITING = ('not started', phases.COMPLETED)


def table(headers, rows):
    """A plain-text table; the last column is never padded or cut."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells):
        padded = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        return '  '.join(padded + [cells[-1]]).rstrip()

    out = [line(list(headers)),
           line(['-' * w for w in widths[:-1]] + ['-' * len(headers[-1])])]
    out.extend(line(row) for row in rows)
    return '\n'.join(out)


def check_report(verdicts):
    """The table of check verdicts and a one-line count."""
    rows = []
    for v in verdicts:
        planned = v.plan_action
        rows.append([
            planned.label,
            planned.parameter('resource_name')
            or planned.parameter('resource_id') or '?',
            planned.parameter('migration_type') or '?',
            planned.parameter('source_node') or '?',
            planned.parameter('destination_node') or '(scheduler)',
            v.verdict, v.reason])
    counts = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    summary = '%d action%s: %s' % (
        len(verdicts), '' if len(verdicts) == 1 else 's',
        ', '.join('%d %s' % (counts.get(k, 0), k)
                  for k in (plan_runner.READY, plan_runner.WOULD_SKIP,
                            plan_runner.WOULD_FAIL)))
    return '%s\n\n%s' % (
        table(['action', 'server', 'type', 'from', 'to', 'verdict', 'why'],
              rows), summary)


def summary_report(records, now=None):
    """The table that ends a run, and a one-line count."""
    now = time.monotonic() if now is None else now
    rows = []
    for r in records:
        elapsed = r.elapsed(now)
        rows.append([r.label, r.server, r.migration_type, r.source,
                     r.destination, r.state, r.now_on or '-',
                     '-' if elapsed is None else '%.1f' % elapsed,
                     r.reason or '-'])
    counts = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    order = [plan_runner.SUCCEEDED, plan_runner.SKIPPED, plan_runner.FAILED,
             plan_runner.ABORTED, plan_runner.NOT_RUN]
    summary = '%d action%s: %s' % (
        len(records), '' if len(records) == 1 else 's',
        ', '.join('%d %s' % (counts[k], k) for k in order if counts.get(k)))
    return '%s\n\n%s' % (
        table(['action', 'server', 'type', 'from', 'to', 'result', 'now on',
               'seconds', 'reason'], rows), summary)


def describe_progress(progress, now=None):
    """'running 45% (460/1024 MiB)', 'migrating 30%', or just the phase.

    None (the action is still in its pre-condition) reads 'checking'.
    With ``now`` (wall time), a live copy whose rate is known moves on
    from its last figures ('..., about 8 s left'), and a migration Nova
    has said nothing new about for STALE_AFTER seconds says so ('...,
    waiting for Nova (last figures 6 s ago)') instead of standing still.
    """
    if progress is None:
        return 'checking'
    # The tracker's phase before Nova has the request: execute has begun.
    text = 'starting' if progress.phase == 'not started' else progress.phase
    waiting = None
    if progress.memory_total_bytes:
        total = progress.memory_total_bytes
        processed = progress.memory_processed_bytes
        percent = progress.percent or 0
        copying = (now is not None and progress.phase == 'running'
                   and progress.figures_at is not None)
        left = None
        if copying and progress.copy_rate:
            # Between two reads, the copy goes on at the rate Nova showed.
            since = max(0.0, now - progress.figures_at)
            processed = min(total, processed + progress.copy_rate * since)
            percent = int(100 * processed // total)
            left = (total - processed) / progress.copy_rate
        text += ' %d%% (%d/%d MiB)' % (percent, processed // MIB,
                                       total // MIB)
        if left:
            text += ', about %d s left' % math.ceil(left)
        elif copying:
            age = max(0.0, now - progress.figures_at)
            # The copy is due to have ended (left == 0), or no rate moves
            # the figures: either way the next word is Nova's.
            if left is not None or age >= tuning.STALE_AFTER:
                waiting = 'last figures %d s ago' % age
    elif progress.percent is not None:
        text += ' %d%%' % progress.percent
    if waiting is None and now is not None and \
            progress.read_at is not None and \
            progress.phase not in _NOT_WAITING and \
            now - progress.read_at >= tuning.STALE_AFTER:
        waiting = 'last read %d s ago' % (now - progress.read_at)
    if waiting:
        text += ', waiting for Nova (%s)' % waiting
    return text


def describe_abort(progress, cold):
    """What an action being aborted waits for, from its last progress.

    A cold migration cannot be stopped half-way: Nova must reach
    VERIFY_RESIZE before it can be reverted.
    """
    phase = progress.phase if progress is not None else None
    if phase is None or phase == 'not started':
        return 'aborting'
    if not cold:
        return 'aborting: ' + describe_progress(progress)
    if phase == phases.FINISHED:
        return 'aborting: reverting from VERIFY_RESIZE'
    if phase in (phases.REVERTING, 'resize_reverting'):
        return 'aborting: reverting to the source'
    if phase in phases.COLD_IN_PROGRESS or \
            phase in phases.MOVE_TASK_STATES:
        return 'aborting: waiting for VERIFY_RESIZE to revert (%s)' % phase
    return 'aborting: ' + phase


def _status_line(record, now, wall=None, aborting=False):
    if record.state == plan_runner.RUNNING and aborting:
        state = describe_abort(record.progress,
                               record.migration_type == 'cold')
    elif record.state == plan_runner.RUNNING:
        state = describe_progress(record.progress, wall)
    else:
        state = record.state
    elapsed = record.elapsed(now)
    return '%s %s %s %s -> %s: %s%s' % (
        record.label, record.server, record.migration_type, record.source,
        record.destination, state,
        '' if elapsed is None else ', %.0f s' % elapsed)


class LiveDisplay(object):
    """Redraws one line per action in place, on a terminal.

    Log records go above the block through :meth:`write_above` so the
    block stays whole.
    """

    def __init__(self, stream, records, clock=time.monotonic,
                 wall_clock=time.time):
        self.stream = stream
        self.records = records
        self.clock = clock
        self.wall_clock = wall_clock
        # Set once the run is interrupted: lines say what aborting waits
        # for.
        self.aborting = False
        self._lines = 0
        # Re-entrant: a signal handler may write while a redraw is on.
        self._lock = threading.RLock()
        self.footer = 'Ctrl-C aborts the running migrations'

    def _clear(self):
        if self._lines:
            self.stream.write(_UP_AND_CLEAR % self._lines)
            self._lines = 0

    def _draw(self):
        now, wall = self.clock(), self.wall_clock()
        lines = ['  ' + _status_line(r, now, wall, self.aborting)
                 for r in self.records]
        lines.append('  (%s)' % self.footer)
        self.stream.write('\n'.join(lines) + '\n')
        self._lines = len(lines)
        self.stream.flush()

    def refresh(self):
        with self._lock:
            self._clear()
            self._draw()

    def write_above(self, text):
        with self._lock:
            self._clear()
            self.stream.write(text.rstrip('\n') + '\n')
            self._draw()

    def close(self):
        """Leave the last state on screen, without the footer."""
        with self._lock:
            self._clear()
            now, wall = self.clock(), self.wall_clock()
            for record in self.records:
                self.stream.write('  %s\n' % _status_line(
                    record, now, wall, self.aborting))
            self.stream.flush()


class LogDisplay(object):
    """Plain timestamped lines, one per change, when not on a terminal."""

    def __init__(self, stream, records, clock=time.monotonic,
                 wall_clock=time.time):
        self.stream = stream
        self.records = records
        self.clock = clock
        self.wall_clock = wall_clock
        self._seen = {}
        self._lock = threading.RLock()
        self.footer = None  # only shown on a terminal
        self.aborting = False

    def _emit(self, text):
        stamp = time.strftime('%H:%M:%S', time.localtime(self.wall_clock()))
        self.stream.write('%s %s\n' % (stamp, text))

    def refresh(self):
        with self._lock:
            now = self.clock()
            for record in self.records:
                self._report(record, now)
            self.stream.flush()

    def _report(self, record, now):
        if record.state == plan_runner.PENDING:
            return
        progress = record.progress
        key = (record.state, progress.phase if progress else None,
               self.aborting)
        seen = self._seen.get(record.index)
        due = (record.state == plan_runner.RUNNING and seen is not None
               and now - seen[1] >= tuning.LOG_PROGRESS_INTERVAL)
        if seen is not None and seen[0] == key and not due:
            return
        text = _status_line(record, now, self.wall_clock(), self.aborting)
        if record.state in plan_runner.FINAL and record.reason:
            text += ': ' + record.reason
        self._emit(text)
        self._seen[record.index] = (key, now)

    def write_above(self, text):
        with self._lock:
            self.stream.write(text.rstrip('\n') + '\n')
            self.stream.flush()

    def close(self):
        self.refresh()


class DisplayLogHandler(logging.Handler):
    """Sends log records through the display, so they do not tear it."""

    def __init__(self, display, level=logging.NOTSET):
        super().__init__(level)
        self.display = display

    def emit(self, record):
        try:
            self.display.write_above(self.format(record))
        except Exception:
            self.handleError(record)
