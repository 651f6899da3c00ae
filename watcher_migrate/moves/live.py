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

"""A live migration: followed by its figures, stopped by an abort.

The server decides the answer (on the destination and idle is success);
the record's progress figures tell when to look (end_prediction). On
timeout, or once the figures show the copy stalled (convergence), the
move is forced to complete or aborted, as timeout_action says, and Nova
is left settled either way.
"""

import dataclasses

from oslo_log import log

from watcher_migrate import exceptions
from watcher_migrate import journal
from watcher_migrate.moves import base
from watcher_migrate import nova_gateway
from watcher_migrate import options
from watcher_migrate import phases
from watcher_migrate import tuning
from watcher_migrate import waiting

LOG = log.getLogger(__name__)

# The verdict of a wait whose copy stalled (convergence).
STALLED = 'stalled'


@dataclasses.dataclass(frozen=True)
class _Cause:
    """Why timeout_action is applied, in the words of each outcome."""

    aborted: str
    while_aborting: str
    forced: str


class LiveMove(base.Move):
    """A live migration of one server, from start to a settled Nova."""

    kind = 'live'

    def _send(self):
        return self.gateway.live_migrate(self.request.server_id,
                                         self.request.destination_node)

    def follow(self, timeout, knob, server):
        """Follow the migration until the server decides, or time runs out.

        :returns: an Outcome (an aborted or timed-out move has stopped)
        """
        tracker = self.tracker
        schedule, first = tracker.live_schedule(timeout)
        try:
            phase, look = waiting.wait_for(
                tracker.through_outages(
                    lambda: self.explained(tracker.live_look())),
                self._decided_or_stalled, schedule,
                deadline=tracker.wait_ends(self.clock() + timeout),
                cancel=self.cancel,
                what='live migration of %s' % self.request.label,
                clock=self.clock, on_poll=tracker.log_progress,
                wake=tracker.wake, first_delay=first)
        except waiting.WaitCancelled:
            return self.stopped_by_abort(self.stop())
        except waiting.WaitTimeout as e:
            return self._timed_out(e, timeout, knob)
        if phase == STALLED:
            return self._stalled(look)
        return self._answer(phase, look)

    def _decided_or_stalled(self, look):
        decided = self.decided(look)
        if decided is None and self.tracker.stalled() is not None:
            return STALLED, look
        return decided

    def _answer(self, phase, look):
        if phase != phases.LANDED:
            return self.failure(phase, look)
        tracker = self.tracker
        if tracker.schedule is not None:
            tracker.schedule.landed(tracker.wall())
        tracker.completed()
        return base.Outcome(True, 'live migrated from %s to %s%s'
                            % (self.source, look.server.host, self.number()),
                            look)

    def _timed_out(self, timeout, seconds, knob):
        tracker = self.tracker
        LOG.warning('Server %s: live migration still in progress after %d s '
                    '(%s); applying timeout_action=%s', self.request.label,
                    timeout.waited, tracker.describe(timeout.last),
                    self.settings.timeout_action)
        return self._apply_timeout_action(_Cause(
            aborted='did not finish within its %d s %s and was aborted'
            % (seconds, knob),
            while_aborting='after its %d s %s' % (seconds, knob),
            forced='at its timeout'))

    def _stalled(self, look):
        """The copy stopped converging: timeout_action now, not later."""
        stall = self.tracker.stalled()
        LOG.warning('Server %s: live migration%s stalled: %s (%s); applying '
                    'timeout_action=%s', self.request.label, self.number(),
                    stall.reason, self.tracker.describe(look),
                    self.settings.timeout_action)
        return self._apply_timeout_action(_Cause(
            aborted='stalled: %s; aborted' % stall.reason,
            while_aborting='after it stalled (%s)' % stall.reason,
            forced='when it stalled: %s' % stall.reason))

    def _apply_timeout_action(self, cause):
        """Force-complete or abort, as timeout_action says, for ``cause``."""
        if self.settings.timeout_action == options.TIMEOUT_FORCE_COMPLETE:
            outcome = self._force_complete(cause.forced)
            if outcome is not None:
                return outcome
        outcome = self.stop()
        if outcome.ok:
            return base.Outcome(
                True, 'live migration completed while being aborted %s: %s'
                % (cause.while_aborting, outcome.reason), outcome.look)
        return base.Outcome(
            False, 'live migration from %s to %s %s: %s'
            % (self.source, self.request.destination_label, cause.aborted,
               outcome.reason), outcome.look)

    def _force_complete(self, when):
        """Force a running migration to complete; None if it could not."""
        tracker = self.tracker
        look = tracker.look()
        if look.status != 'running':
            LOG.warning('Server %s: migration is %s, not running: it cannot '
                        'be forced to complete, aborting it instead',
                        self.request.label, look.status)
            return None
        try:
            self.gateway.force_complete(self.request.server_id,
                                        look.migration.id)
        except (nova_gateway.NovaRefused,
                nova_gateway.WriteOutcomeUnknown) as e:
            LOG.warning('Server %s: %s', self.request.label, e)
        try:
            phase, look = waiting.wait_for(
                tracker.through_outages(
                    lambda: self.explained(tracker.look())),
                self.decided, self.settle_schedule(),
                deadline=self.clock() + self.settings.settle_timeout,
                cancel=self.cancel,
                what='force-complete of %s' % self.request.label,
                clock=self.clock, on_poll=tracker.log_progress)
        except (waiting.WaitTimeout, waiting.WaitCancelled):
            return None
        outcome = self._answer(phase, look)
        if outcome.ok:
            return base.Outcome(
                True, outcome.reason + ', forced to complete ' + when,
                outcome.look)
        return outcome

    def stop(self):
        """Abort the migration and wait until Nova has settled.

        Not cancellable: stopping is what an abort asks for. The abort is
        sent again every ABORT_RESEND while Nova still runs the migration
        (an abort whose request was lost changes nothing, a second one is
        harmless).

        :returns: an Outcome, ok if the migration completed anyway
        :raises ActionFailed: Nova did not settle within settle_timeout
        """
        tracker = self.tracker
        self.journal_phase(journal.STOPPING)
        sent = {'at': None, 'lost': None}

        def look_and_abort():
            look = tracker.look()
            if self._abortable(look.migration) and (
                    sent['at'] is None
                    or self.clock() - sent['at'] >= tuning.ABORT_RESEND):
                delivered, lost = self._send_abort(look.migration)
                sent['lost'] = lost
                if delivered:
                    sent['at'] = self.clock()
            return look

        settle = self.settings.settle_timeout
        try:
            look = waiting.wait_for(
                look_and_abort,
                lambda look: look if phases.of_stopping_live(look) else None,
                waiting.PollSchedule(self.settings.poll_interval_min,
                                     self.settings.poll_interval_max),
                deadline=self.clock() + settle,
                what='abort of %s' % self.request.label, clock=self.clock)
        except waiting.WaitTimeout as e:
            lost = sent['lost']
            raise exceptions.ActionFailed(
                'Server %s: abort of the live migration requested but Nova '
                'did not settle within its %d s settle_timeout: %s%s'
                % (self.request.label, settle, tracker.describe(e.last),
                   '; the last abort request: %s' % lost if lost else ''))
        migration = look.migration
        completed = (migration is not None
                     and migration.status == phases.COMPLETED
                     and phases.stopped_on_destination(look, self.target))
        self.journal_ended()
        return base.Outcome(completed, tracker.describe(look), look)

    def _abortable(self, migration):
        return phases.abortable(
            migration,
            self.gateway.supports(nova_gateway.ABORT_QUEUED_MICROVERSION))

    def _send_abort(self, migration):
        """Ask Nova to abort; returns (sent, why it may not have arrived)."""
        request = self.request
        LOG.warning('Server %s: aborting live migration %s (%s)',
                    request.label, migration.id, migration.status)
        try:
            self.gateway.abort_live_migration(request.server_id, migration.id)
        except nova_gateway.NovaRefused as e:
            # The migration moved on (e.g. completed) in the meantime: the
            # next look tells where it ended.
            LOG.info('Server %s: %s', request.label, e)
            return False, None
        except (nova_gateway.WriteOutcomeUnknown,
                exceptions.NovaUnavailable) as e:
            LOG.warning('Server %s: %s', request.label, e)
            return True, str(e)
        return True, None
