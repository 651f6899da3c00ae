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

"""A cold migration: followed by the server, confirmed, or reverted.

A cold migration cannot be aborted: to stop one, the move lets Nova reach
VERIFY_RESIZE and reverts it. A success is confirmed (unless auto_confirm
is off), so no server is left in VERIFY_RESIZE.
"""

import dataclasses

from oslo_log import log

from watcher_migrate import exceptions
from watcher_migrate import journal
from watcher_migrate.moves import base
from watcher_migrate import nova_gateway
from watcher_migrate import phases
from watcher_migrate import tuning
from watcher_migrate import waiting

LOG = log.getLogger(__name__)


class ColdMove(base.Move):
    """A cold migration of one server, from start to confirmed or back."""

    kind = 'cold'

    def _send(self):
        return self.gateway.cold_migrate(self.request.server_id,
                                         self.request.destination_node)

    def follow(self, timeout, knob, server):
        """Follow the migration to VERIFY_RESIZE, then confirm it.

        :param server: the server before the move: the status it must
            keep once confirmed
        """
        tracker = self.tracker
        try:
            phase, look = waiting.wait_for(
                tracker.through_outages(
                    lambda: self.explained(tracker.follow_look())),
                self.decided, tracker.heard(self.server_schedule()),
                deadline=tracker.wait_ends(self.clock() + timeout),
                cancel=self.cancel,
                what='cold migration of %s' % self.request.label,
                clock=self.clock, on_poll=tracker.log_progress,
                wake=tracker.wake, first_delay=tracker.heard_first_delay())
        except waiting.WaitCancelled:
            return self.stopped_by_abort(self.stop())
        except waiting.WaitTimeout as e:
            LOG.warning('Server %s: cold migration still in progress after '
                        '%d s (%s); reverting it once Nova settles',
                        self.request.label, e.waited,
                        tracker.describe(e.last))
            stopped = self.stop()
            return base.Outcome(
                False, 'cold migration from %s to %s did not finish within '
                'its %d s %s and was reverted: %s'
                % (self.source, self.request.destination_label, timeout,
                   knob, stopped.reason), stopped.look)
        if phase == phases.LANDED:
            return base.Outcome(
                True, 'cold migrated from %s to %s (already confirmed)'
                % (self.source, look.server.host), look)
        if phase != phases.RESIZED:
            return self.failure(phase, look)
        if not self.settings.auto_confirm:
            return base.Outcome(
                True, 'cold migrated from %s to %s, left in VERIFY_RESIZE '
                'for an operator to confirm (auto_confirm is off)'
                % (self.source, look.server.host), look)
        return self._confirm(server.status)

    # -- confirm ----------------------------------------------------------

    def _confirm(self, original_status):
        """Confirm the resize; the server must end as it was before.

        Not cancellable: once the confirm is on its way, going back is
        too late; it is finished.
        """
        tracker = self.tracker
        self.journal_phase(journal.CONFIRMING)
        observe, schedule = tracker.server_look, self.server_schedule()
        if self._send_confirm():
            # Nova took it: its events say when it is done, as for the move.
            observe, schedule = tracker.follow_look, tracker.heard(schedule)
        settle = self.settings.settle_timeout
        try:
            phase, look = self._resending(
                observe,
                lambda look: phases.of_confirm(look, self.target,
                                               original_status),
                self._confirm_again, schedule,
                'confirm of %s' % self.request.label, wake=tracker.wake)
        except waiting.WaitTimeout as e:
            return base.Outcome(
                False, 'confirm of the cold migration was requested but Nova '
                'did not finish it within its %d s settle_timeout: %s'
                % (settle, tracker.describe(e.last)), e.last)
        server = look.server
        if phase == phases.GONE:
            return base.Outcome(
                False, 'the server was deleted while its migration was '
                'being confirmed', look)
        if phase == phases.FAILED:
            # Failed, or reverted by someone else meanwhile.
            look = dataclasses.replace(look, migration=tracker.final_record())
            return base.Outcome(
                False, 'confirming the cold migration from %s failed: %s'
                % (self.source, tracker.describe(look)), look)
        if phase == phases.CONFIRMED:
            return base.Outcome(
                True, 'cold migrated from %s to %s and confirmed%s, %s as '
                'before' % (self.source, server.host, self.number(),
                            server.status), look)
        return base.Outcome(
            False, 'cold migration confirmed but %s (was %s)'
            % (tracker.describe(look), original_status), look)

    def _confirm_again(self):
        """Send the confirm again if Nova never received it.

        Nova marks the record 'confirming' while it answers the request,
        so a record still 'finished' means the request was lost; a second
        confirm of a migration already confirming is refused, harmlessly.
        """
        record = self.tracker.final_record()
        if record is not None and record.status == phases.FINISHED:
            LOG.warning('Server %s: Nova has not received the confirm of '
                        'migration %s; sending it again',
                        self.request.label, record.id)
            self._send_confirm()

    def _send_confirm(self):
        """Send the confirm; whether Nova accepted it."""
        try:
            self.tracker.requested(
                self.gateway.confirm_resize(self.request.server_id))
            return True
        except (nova_gateway.WriteOutcomeUnknown,
                exceptions.NovaUnavailable) as e:
            LOG.warning('Server %s: %s; the state of the migration will '
                        'tell', self.request.label, e)
        except nova_gateway.NovaRefused as e:
            # Already confirming or confirmed (an earlier, lost answer);
            # anything else shows in the wait's verdict.
            LOG.warning('Server %s: %s', self.request.label, e)
        return False

    # -- stop and revert --------------------------------------------------

    def stop(self):
        """Bring the migration back to the source once Nova allows.

        Not cancellable. Nova is first left to settle (a cold migration
        cannot be aborted); one that reached VERIFY_RESIZE is reverted.

        :returns: an Outcome, ok if the server ended on the destination
        :raises ActionFailed: Nova did not settle within settle_timeout
        """
        tracker = self.tracker
        self.journal_phase(journal.STOPPING)
        settle = self.settings.settle_timeout
        try:
            phase, look = waiting.wait_for(
                tracker.through_outages(
                    lambda: self.explained(tracker.look())),
                self.decided, self.settle_schedule(),
                deadline=self.clock() + settle,
                what='cold migration of %s to settle' % self.request.label,
                clock=self.clock, on_poll=tracker.log_progress)
        except waiting.WaitTimeout as e:
            raise exceptions.ActionFailed(
                'Server %s: cold migration could not be stopped: Nova did '
                'not settle within its %d s settle_timeout: %s'
                % (self.request.label, settle, tracker.describe(e.last)))
        if phase != phases.RESIZED:
            self.journal_ended()
            return base.Outcome(
                phases.stopped_on_destination(look, self.target),
                tracker.describe(look), look)
        return self.revert()

    def revert(self):
        """Revert the resize (VERIFY_RESIZE) back to the source.

        Not cancellable. The revert is sent again while the record stays
        'finished' CONFIRM_RESEND after the request.

        :returns: an Outcome (not ok: the server did not move)
        :raises ActionFailed: Nova did not finish within settle_timeout
        """
        tracker = self.tracker
        self.journal_phase(journal.REVERTING)
        LOG.warning('Server %s: reverting cold migration %s',
                    self.request.label, tracker.migration_id)
        self._send_revert()

        def revert_again():
            # Still 'finished': the revert request never reached Nova.
            LOG.warning('Server %s: Nova has not received the revert; '
                        'sending it again', self.request.label)
            self._send_revert()

        settle = self.settings.settle_timeout
        try:
            phase, look = self._resending(
                tracker.look, phases.of_revert, revert_again,
                self.settle_schedule(), 'revert of %s' % self.request.label)
        except waiting.WaitTimeout as e:
            raise exceptions.ActionFailed(
                'Server %s: revert of the cold migration requested but Nova '
                'did not finish it within its %d s settle_timeout: %s'
                % (self.request.label, settle, tracker.describe(e.last)))
        self.journal_ended()
        if phase == phases.GONE:
            return base.Outcome(False, 'server deleted', look)
        return base.Outcome(False, tracker.describe(look), look)

    def _resending(self, observe, phase_of, resend, schedule, what,
                   wake=None):
        """Wait out settle_timeout for ``phase_of`` to decide.

        While the server still shows the resize unanswered (RESIZED), the
        request is sent again every CONFIRM_RESEND: a confirm or revert
        whose request was lost changes nothing, and Nova refuses a second
        one it is already answering, harmlessly.

        :returns: (phase, look)
        :raises waiting.WaitTimeout: settle_timeout passed undecided
        """
        sent = {'at': self.clock()}

        def look_and_resend():
            look = observe()
            if phase_of(look) == phases.RESIZED and \
                    self.clock() - sent['at'] >= tuning.CONFIRM_RESEND:
                resend()
                sent['at'] = self.clock()
            return look

        def decided(look):
            phase = phase_of(look)
            if phase in (None, phases.RESIZED):
                return None
            return phase, look

        return waiting.wait_for(
            self.tracker.through_outages(look_and_resend), decided, schedule,
            deadline=self.tracker.wait_ends(
                self.clock() + self.settings.settle_timeout),
            what=what, clock=self.clock, on_poll=self.tracker.log_progress,
            wake=wake)

    def _send_revert(self):
        try:
            self.gateway.revert_resize(self.request.server_id)
        except (nova_gateway.WriteOutcomeUnknown, nova_gateway.NovaRefused,
                exceptions.NovaUnavailable) as e:
            LOG.warning('Server %s: %s', self.request.label, e)
        return self.clock()
