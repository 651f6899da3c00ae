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

"""What a live and a cold move share: the start, the verdict's words.

A move request is sent once, as far as Nova is concerned: a lost answer
is resolved by watching Nova for the move, a 409 (server busy) retried
with backoff; both through ``waiting.wait_for``, cancellable by abort.
"""

import dataclasses
import time

from oslo_log import log

from watcher_migrate import exceptions
from watcher_migrate import journal
from watcher_migrate import nova_gateway
from watcher_migrate import phases
from watcher_migrate import tracking
from watcher_migrate import tuning
from watcher_migrate import waiting

LOG = log.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The final answer of a move, or of one of its steps.

    :param ok: success (the server is where the move sends it)
    :param reason: Nova's words on why, for messages
    :param look: the look the answer came from
    :param abort_result: set when an abort stopped the move: True if the
        server ended on its source
    """

    ok: bool
    reason: str
    look: tracking.Look = None
    abort_result: bool = None


class NotStarted(Exception):
    """Cancelled while Nova refused the move (409): nothing was started."""


class Move(object):
    """One move of one server: start, follow, stop, finish.

    Subclasses give ``kind``, ``_send`` (the move request), ``follow``
    (to a final Outcome) and ``stop`` (undo a move still under way).

    :param gateway: a ``NovaGateway``
    :param request: the ``parameters.MigrationRequest``
    :param settings: ``options.Settings``
    :param source: the host the server is on before the move
    :param cancel: a ``threading.Event``: once set, the move is stopped
        at its next look (an abort)
    :param action_uuid: the Watcher action's UUID, for the journal
    """

    kind = None

    def __init__(self, gateway, request, settings, source, cancel=None,
                 clock=time.monotonic, action_uuid=None):
        self.gateway = gateway
        self.request = request
        self.settings = settings
        self.source = source
        self.cancel = cancel
        self.clock = clock
        self.action_uuid = action_uuid
        self.tracker = tracking.MigrationTracker(gateway, request, settings,
                                                 clock=clock)
        #: The move's row in the journal of moves in flight
        #: (``journal.InFlight``), once written.
        self.in_flight = None
        self.tracker.on_record = self._record_known
        self.target = phases.Target(request.live, source,
                                    request.destination_node)
        # Since when the server has been idle but not where a success
        # would put it (None: it is not): Nova's records get a grace
        # to agree before that is taken as the answer.
        self._unexplained_since = None
        self._unexplained_for = 0.0

    @property
    def live(self):
        return self.request.live

    @property
    def progress(self):
        """Where the move stands (``tracking.Progress``)."""
        return self.tracker.latest

    def interrupt(self):
        """End the current sleep between looks (abort, shutdown)."""
        self.tracker.interrupt()

    def run(self, server, timeout, knob):
        """Start the move and follow it to its final Outcome.

        :param server: the ServerView as last read, before the move
        :param timeout: seconds the move may take (``knob`` says which
            option set them)
        """
        tracker = self.tracker
        # Before anything reaches Nova: a move the journal cannot record
        # could not be finished by the next process if this one died.
        self.journal_begin(server, timeout)
        # Subscribed before the request, so no change after it is missed.
        tracker.watch(server)
        try:
            try:
                self.start()
            except NotStarted:
                outcome = Outcome(False, 'migration aborted before it '
                                  'started', tracking.Look(at=self.clock()),
                                  abort_result=True)
            except waiting.WaitCancelled:
                # The request may have reached Nova: stop what it began.
                outcome = self.stopped_by_abort(self.stop())
            except exceptions.ActionFailed:
                # Nova refused the move, or showed none after it: nothing
                # was started.
                self.journal_ended()
                raise
            else:
                outcome = self.follow(timeout, knob, server)
                if outcome.ok:
                    tracker.moved()
        finally:
            tracker.unwatch()
        # An exception instead leaves the row: the move may be under way,
        # for abort and post_condition to stop, or the next process.
        self.journal_ended()
        return outcome

    # -- the journal of moves in flight -----------------------------------

    def journal_begin(self, server, timeout):
        """Write the move's row; the first move of the process recovers.

        :raises journal.JournalError: the journal cannot be written
        """
        request = self.request
        store = self.gateway.context.journal(
            self.settings, self.gateway, self.request.server_id)
        entry = store.add(journal.Entry(
            server_id=request.server_id, server_name=request.server_name,
            migration_type=request.migration_type, source=self.source,
            destination=request.destination_node or '',
            status_before=server.status, action_uuid=self.action_uuid,
            deadline=self.tracker.wall() + timeout,
            timeout_action=self.settings.timeout_action,
            owner=journal.Owner.current()))
        self.in_flight = journal.InFlight(store, entry)

    def journal_phase(self, phase):
        if self.in_flight is not None:
            self.in_flight.phase(phase)

    def journal_ended(self):
        if self.in_flight is not None:
            self.in_flight.ended()

    def _record_known(self, migration_id):
        if self.in_flight is not None:
            self.in_flight.known(migration_id)

    # -- start ------------------------------------------------------------

    def _send(self):
        """Ask Nova for the move: the id Nova gave the request, or None."""
        raise NotImplementedError()

    def start(self):
        """Send the move request once, as far as Nova is concerned.

        A request whose answer was lost may still reach Nova late (a
        proxy can hold it past the client's timeout), so Nova is watched
        for the move for the whole API retry budget (at least
        RESOLVE_WINDOW). Only if Nova shows no move by then is the
        request taken as never received and sent again, once; a second
        loss fails the move. Requests that never left are retried in the
        gateway.

        :raises NotStarted: cancelled while Nova refused the move
        :raises waiting.WaitCancelled: cancelled while resolving a lost
            answer (the move may be under way)
        """
        self.tracker.begin(self.source)
        window = max(tuning.RESOLVE_WINDOW, self.settings.api_retry_timeout)
        for attempt in (1, 2):
            try:
                self._send_until_accepted()
                return
            except nova_gateway.WriteOutcomeUnknown as e:
                LOG.warning('%s; reading Nova to find out whether it acted',
                            e)
                if self._reached_nova(window):
                    LOG.info('Server %s: the move request did reach Nova; '
                             'following it', self.request.label)
                    return
                if attempt == 2:
                    raise exceptions.ActionFailed(
                        'Server %s: could not start the %s migration from '
                        '%s to %s: %s, twice, and Nova showed no move '
                        'within %.0f s of either request; not sending it '
                        'again' % (self.request.label,
                                   self.request.migration_type, self.source,
                                   self.request.destination_label, e,
                                   window))
                LOG.warning('Server %s: Nova shows no move %.0f s after the '
                            'request whose answer was lost: it never got '
                            'there; sending it again', self.request.label,
                            window)

    def _start_schedule(self):
        return waiting.PollSchedule(tuning.START_RETRY_FLOOR,
                                    tuning.START_RETRY_CAP)

    def _send_until_accepted(self):
        """Send the move, retrying a 409 within api_retry_timeout.

        A 409 may be Nova busy with our own request (its answer lost
        earlier): if the move shows, it is under way.
        """
        refused = []

        def attempt():
            try:
                sent_at = self.clock()
                self.tracker.sent(sent_at, self._send())
                return True
            except nova_gateway.NovaConflict as e:
                if self.tracker.move_visible():
                    return True
                refused[:] = [e]
                return None

        budget = self.settings.api_retry_timeout
        try:
            waiting.wait_for(
                attempt, lambda accepted: accepted, self._start_schedule(),
                deadline=self.clock() + budget, cancel=self.cancel,
                what='start of the move of %s' % self.request.label,
                clock=self.clock)
        except waiting.WaitCancelled:
            raise NotStarted()
        except waiting.WaitTimeout:
            raise exceptions.ActionFailed(
                'Server %s: could not start the %s migration from %s to %s '
                'within its %s s api_retry_timeout: %s'
                % (self.request.label, self.request.migration_type,
                   self.source, self.request.destination_label, budget,
                   refused[0]))

    def _reached_nova(self, window):
        """Whether Nova shows the move within ``window`` seconds."""
        def visible():
            try:
                return self.tracker.move_visible()
            except exceptions.NovaUnavailable as e:
                LOG.warning('Server %s: %s', self.request.label, e)
                return False

        try:
            return waiting.wait_for(
                visible, lambda seen: seen or None, self._start_schedule(),
                deadline=self.clock() + window, cancel=self.cancel,
                what='the lost move request of %s' % self.request.label,
                clock=self.clock)
        except waiting.WaitTimeout:
            return False

    # -- following --------------------------------------------------------

    def explained(self, look):
        """``look``, with the record that explains an idle server.

        An idle server not landed well is explained by its migration
        record (read now); how long it has been so is kept for the grace
        Nova's records get to agree.
        """
        if not phases.needs_record(look, self.target):
            self._unexplained_since = None
            self._unexplained_for = 0.0
            return look
        look = dataclasses.replace(look, migration=self.tracker.final_record())
        if self._unexplained_since is None:
            self._unexplained_since = look.at
        self._unexplained_for = look.at - self._unexplained_since
        return look

    def decided(self, look):
        """The move's phase in ``look`` with the look, or None."""
        phase = phases.of_move(look, self.target, self._unexplained_for)
        return (phase, look) if phase is not None else None

    def failure(self, phase, look):
        """The failed Outcome for a final ``phase`` of the move."""
        kind = self.request.migration_type
        describe = self.tracker.describe
        if phase == phases.GONE:
            return Outcome(False, 'the server was deleted during its %s '
                           'migration from %s' % (kind, self.source), look)
        if phase == phases.NEVER_STARTED:
            return Outcome(False, 'Nova accepted the %s migration request '
                           'but never started it; %s' % (kind, describe(look)),
                           look)
        if phase == phases.LANDED_UNWELL:
            return Outcome(False, '%s migration from %s ended but %s'
                           % (kind, self.source, describe(look)), look)
        return Outcome(False, '%s migration from %s to %s failed: %s'
                       % (kind, self.source, self.request.destination_label,
                          describe(look)), look)

    def number(self):
        """' (migration N)' once the record is known, for messages."""
        migration_id = self.tracker.migration_id
        return ' (migration %s)' % migration_id if migration_id else ''

    def settle_schedule(self):
        """Looks while Nova settles: back off while the status stays."""
        return waiting.PollSchedule(
            self.settings.poll_interval_min, self.settings.poll_interval_max,
            phase=lambda look: look.status)

    def server_schedule(self):
        """Looks at the server: back off while its task and status stay."""
        return waiting.PollSchedule(
            self.settings.poll_interval_min, self.settings.poll_interval_max,
            phase=lambda look: look.server and (look.server.task_state,
                                                look.server.status))

    def stopped_by_abort(self, outcome):
        """The Outcome of a move an abort stopped: execute then fails."""
        if outcome.ok:
            return Outcome(
                True, 'migration completed before the abort took effect: %s'
                % outcome.reason, outcome.look, abort_result=False)
        return Outcome(
            False, 'migration aborted on request: %s' % outcome.reason,
            outcome.look, abort_result=True)

    # -- for subclasses ---------------------------------------------------

    def follow(self, timeout, knob, server):
        raise NotImplementedError()

    def stop(self):
        raise NotImplementedError()
