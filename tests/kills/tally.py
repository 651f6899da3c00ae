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

"""The counts of a kill run, per victim and moment, and their table."""

import collections
import dataclasses
import textwrap
import threading

RECOVER_CLI = 'recover-cli'
NEW_APPLIER = 'new-applier'


@dataclasses.dataclass
class Iteration:
    """One kill: what it left, how the victim restarted, what remained."""

    victim: str
    moment: str
    kill: object
    left: str
    restart: str = None
    restart_code: object = None
    said: str = None
    violations: list = dataclasses.field(default_factory=list)
    # Nova-side violations (moves left in progress, servers misplaced).
    left_after: bool = False
    # The killed plan's and action's states in Watcher after the restart.
    plan_state: str = None


LEGEND = (
    'left: what the kill left in Nova (running: a migration still in '
    'progress; VERIFY_RESIZE: waiting for a confirm); still VR: Nova still '
    'showed VERIFY_RESIZE, unconfirmed, right after the kill; said: what '
    'the recovery log says it did (finished the move, stopped it, or '
    'dropped an ended one); left after: moves in progress or servers '
    'misplaced once the restart ended and Nova had settled; violations: '
    "kills with any broken promise, the recovery log's included.")


class Tally(object):
    """Every iteration of the run, for the table printed at its end."""

    def __init__(self):
        self._lock = threading.Lock()
        self.iterations = []

    def add(self, iteration):
        with self._lock:
            self.iterations.append(iteration)

    def table(self):
        rows = collections.OrderedDict()
        for it in self.iterations:
            row = rows.setdefault((it.victim, it.moment),
                                  collections.Counter())
            row['kills'] += 1
            row['left ' + it.left] += 1
            if it.kill.still_verify_resize:
                row['still VR'] += 1
            row[it.restart] += 1
            if it.said:
                row['said ' + it.said] += 1
            if it.restart_code != 0:
                row['restart failed'] += 1
            if it.left_after:
                row['left after'] += 1
            if it.violations:
                row['violations'] += 1
            if it.plan_state:
                row['plan ' + it.plan_state] += 1
        columns = ['kills', 'left running', 'left VERIFY_RESIZE',
                   'left nothing', 'still VR', RECOVER_CLI, NEW_APPLIER,
                   'said succeeded', 'said stopped', 'said dropped',
                   'restart failed', 'left after', 'violations']
        lines = ['%-8s %-17s ' % ('victim', 'moment') +
                 ' '.join('%*s' % (len(c), c) for c in columns) +
                 '  killed plan/action after restart']
        for (victim, moment), row in rows.items():
            plans = ', '.join('%d %s' % (n, k[5:])
                              for k, n in sorted(row.items())
                              if k.startswith('plan '))
            lines.append('%-8s %-17s ' % (victim, moment) + ' '.join(
                '%*d' % (len(c), row[c]) for c in columns) +
                '  ' + (plans or '-'))
        lines.append('')
        lines += textwrap.wrap(LEGEND, 79)
        for it in self.iterations:
            if it.violations:
                lines.append('  %s %s (restart %s, exit %s): %s' % (
                    it.victim, it.moment, it.restart, it.restart_code,
                    ' '.join('; '.join(it.violations).split())))
        return lines
