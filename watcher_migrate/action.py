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

"""The ``nova_migrate`` action: live or cold migrate one server.

What it does beyond Watcher's built-in ``migrate``:

- rejects invalid parameters before any call to Nova, naming the parameter;
- skips what there is nothing to do for (server gone, already on the
  destination, moved elsewhere) and fails early, with the reason, when the
  destination or the server cannot take the move;
- follows the migration record, not just the server, polling fast at first
  and backing off, so it notices the end within a fraction of a second;
- bounds every wait, and on timeout aborts (or force-completes) the live
  migration and waits for Nova to settle: it never leaves a migration
  running or a server in VERIFY_RESIZE behind it;
- puts Nova's own reason (migration status, server fault) into the message
  that Watcher stores as the action's status_message.
"""

import dataclasses
import threading
import time

from oslo_log import log

from watcher_migrate import action_base
from watcher_migrate import compute_nodes
from watcher_migrate import exceptions
from watcher_migrate import keystone_session
from watcher_migrate import nova_gateway
from watcher_migrate import options
from watcher_migrate import parameters
from watcher_migrate import tracking
from watcher_migrate import waiting

LOG = log.getLogger(__name__)

PAUSED = 'PAUSED'
# Seconds during which execute trusts what pre_condition just checked.
PRE_CONDITION_REUSE = 5.0
# post_condition runs right after execute (in a busy applier, seconds
# after): a look at the server younger than this (the one that ended
# execute, as fresh as a poll of poll_interval_max' default) is the
# placement to check.
POST_CONDITION_REUSE = 5.0
# A confirm or abort Nova shows no sign of having received (its request
# was lost) is sent again after this many seconds.
CONFIRM_RESEND = 3.0
ABORT_RESEND = 5.0


class Migrate(action_base.BaseAction):
    """Migrate a server, live or cold, to another nova-compute host.

    Input parameters (the names of Watcher's built-in ``migrate``):

    - ``resource_id``: the server UUID (required)
    - ``migration_type``: ``live`` or ``cold`` (required)
    - ``source_node``: the host the server is expected on (required)
    - ``destination_node``: the target host; absent or null lets the Nova
      scheduler choose
    - either node may be given by its compute node (hypervisor) UUID, as
      some stock strategies do; it is resolved to its host
    - ``resource_name``: the server name, for messages (optional)
    """

    # The constants of Watcher's built-in, which some Watcher code expects.
    MIGRATION_TYPE = parameters.MIGRATION_TYPE
    LIVE_MIGRATION = parameters.LIVE
    COLD_MIGRATION = parameters.COLD
    DESTINATION_NODE = parameters.DESTINATION_NODE
    SOURCE_NODE = parameters.SOURCE_NODE

    def __init__(self, config, osc=None):
        super().__init__(config, osc=osc)
        # Nothing here may do I/O: the applier builds every action plugin
        # at start-up, with no osc, just to store its description.
        self._settings = None
        self._gateway = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._executing = False
        self._execute_done = threading.Event()
        self._tracker = None
        self._source = None
        self._succeeded = False
        self._abort_result = None
        self._checked = None
        self._resolved = None
        self._nothing_to_do = None
        #: What a successful execute did, in words (for reports).
        self.result_message = None

    # -- the BaseAction interface -----------------------------------------

    @classmethod
    def get_config_opts(cls):
        return options.all_opts()

    @property
    def schema(self):
        return parameters.SCHEMA

    def validate_parameters(self):
        # Watcher's base class validates with jsonschema, which cannot run
        # a voluptuous schema.
        self.request
        return True

    def get_description(self):
        return ('Live or cold migrate a server to another nova-compute host, '
                'confirm it, and never leave a migration running '
                '(watcher-migrate)')

    # -- parameters, the way Watcher's actions expose them -----------------

    @property
    def request(self):
        """The validated parameters (``parameters.MigrationRequest``).

        With hosts for compute node UUIDs once a hook has resolved them.
        """
        if self._resolved is not None:
            return self._resolved
        return parameters.parse(self.input_parameters)

    def _resolve(self):
        """Validate, then read the hosts of nodes given by UUID (I/O)."""
        if self._resolved is None:
            self._resolved = compute_nodes.resolve(
                self.gateway, parameters.parse(self.input_parameters))
        return self._resolved

    @property
    def instance_uuid(self):
        return self.request.server_id

    @property
    def migration_type(self):
        return self.request.migration_type

    @property
    def source_node(self):
        return self.request.source_node

    @property
    def destination_node(self):
        return self.request.destination_node

    @property
    def progress(self):
        """Where the migration stands (``tracking.Progress``).

        None before execute started it. Safe to read from another thread.
        """
        tracker = self._tracker
        return tracker.latest if tracker is not None else None

    # -- collaborators, built on first use --------------------------------

    @property
    def settings(self):
        if self._settings is None:
            self._settings = options.Settings(self.config)
        return self._settings

    @property
    def gateway(self):
        if self._gateway is None:
            session = keystone_session.session_for(self.osc, self.settings)
            self._gateway = nova_gateway.NovaGateway(session, self.settings)
        return self._gateway

    # -- pre_condition ----------------------------------------------------

    def pre_condition(self):
        """Skip what needs no move; fail early on what cannot move."""
        request = self._resolve()
        server = self.gateway.get_server(request.server_id)
        request = self._fit_to(server, request)
        try:
            self.check_movable(request, server)
        except exceptions.ActionSkipped as e:
            if exceptions.SKIPS_UNDERSTOOD:
                raise
            # Watcher < 15 has no SKIPPED state and would fail the action
            # (and the plan) for what needs no move: succeed without one.
            LOG.warning('%s; this Watcher has no SKIPPED state: the action '
                        'succeeds without moving the server', e)
            self._nothing_to_do = str(e)
            return
        self._checked = (time.monotonic(), server)

    def _fit_to(self, server, request):
        """The move Nova can make of the server as it is now.

        Nova refuses to cold-migrate a PAUSED server (409), and Watcher's
        host_maintenance asks a cold migration of every server that is not
        ACTIVE; a live migration moves it and keeps it PAUSED.
        """
        if server is None or request.live or \
                server.status != PAUSED or server.task_state is not None:
            return request
        LOG.warning('Server %s is PAUSED, which Nova cannot cold-migrate: '
                    'live-migrating it instead', request.label)
        self._resolved = dataclasses.replace(
            request, migration_type=parameters.LIVE)
        return self._resolved

    def check_movable(self, request, server):
        """Raise ActionSkipped or ActionFailed unless the move can start."""
        label = request.label
        if server is None:
            raise exceptions.ActionSkipped(
                'Server %s not found: nothing to migrate' % label)
        if request.destination_node and \
                server.host == request.destination_node:
            raise exceptions.ActionSkipped(
                'Server %s is already on destination %s'
                % (label, request.destination_label))
        if server.host != request.source_node:
            raise exceptions.ActionSkipped(
                'Server %s is on %s, neither on source %s nor on destination '
                '%s: the plan is stale' % (label, server.host,
                                           request.source_label,
                                           request.destination_label))
        if request.destination_node:
            self._check_destination(request)
        if server.task_state is not None:
            raise exceptions.ActionFailed(
                'Server %s on %s cannot be migrated to %s: it is busy with '
                'task %s (status %s)'
                % (label, server.host, request.destination_label,
                   server.task_state, server.status))
        allowed = (tracking.LIVE_OK_STATUSES if request.live
                   else tracking.COLD_OK_STATUSES)
        if server.status not in allowed:
            raise exceptions.ActionFailed(
                'Server %s on %s cannot be %s migrated to %s: its status is '
                '%s, %s migration needs %s'
                % (label, server.host, request.migration_type,
                   request.destination_label, server.status,
                   request.migration_type, ' or '.join(allowed)))

    def _check_destination(self, request):
        host = request.destination_node
        service = self.gateway.get_compute_service(host)
        why = None
        if service is None:
            why = 'it has no nova-compute service'
        elif service.status != 'enabled':
            why = 'its nova-compute service is disabled'
            if service.disabled_reason:
                why += ' (%s)' % service.disabled_reason
        elif service.forced_down:
            why = 'its nova-compute service is forced down'
        elif service.state != 'up':
            why = 'its nova-compute service is down'
        if why:
            raise exceptions.ActionFailed(
                'Cannot migrate server %s from %s to %s: %s'
                % (request.label, request.source_label,
                   request.destination_label, why))

    # -- execute ----------------------------------------------------------

    def execute(self):
        """Start the migration and follow it to a final answer.

        :returns: True once the server is on the destination in its
            expected status (cold: confirmed unless auto_confirm is off)
        :raises ActionFailed: with Nova's reason, after making sure no
            migration is left in progress
        """
        with self._lock:
            if self._cancel.is_set():
                raise exceptions.ActionFailed(
                    'Server %s: migration aborted before it started'
                    % self.request.label)
            self._executing = True
            self._execute_done.clear()
        try:
            return self._execute(self._resolve())
        finally:
            with self._lock:
                self._executing = False
                self._execute_done.set()

    def _execute(self, request):
        if self._nothing_to_do is not None:
            self.result_message = self._nothing_to_do
            self._succeeded = True
            return True
        server = self._recently_checked()
        if server is None:
            server = self.gateway.get_server(request.server_id)
            if server is not None and request.destination_node and \
                    server.host == request.destination_node and \
                    server.task_state is None:
                LOG.info('Server %s is already on %s: nothing to do',
                         request.label, request.destination_node)
                self.result_message = ('already on %s: nothing to do'
                                       % request.destination_node)
                self._succeeded = True
                return True
            request = self._fit_to(server, request)
            self.check_movable(request, server)
        self._source = server.host
        tracker = tracking.MigrationTracker(
            self.gateway, request, self.settings, cancel=self._cancel)
        self._tracker = tracker
        if self._cancel.is_set():
            tracker.interrupt()
        timeout = self._timeout(server)
        LOG.info('Server %s: starting %s migration from %s to %s '
                 '(timeout %d s)', request.label, request.migration_type,
                 server.host, request.destination_label, timeout)
        # Subscribed before the request, so no change after it is missed.
        tracker.watch(server)
        try:
            if request.live:
                tracker.start(lambda: self.gateway.live_migrate(
                    request.server_id, request.destination_node),
                    server.host)
                outcome = self._follow_live(tracker, timeout)
            else:
                tracker.start(lambda: self.gateway.cold_migrate(
                    request.server_id, request.destination_node),
                    server.host)
                outcome = self._follow_cold(tracker, timeout, server.status)
        finally:
            tracker.unwatch()
        if not outcome.ok:
            LOG.error('Server %s: %s', request.label, outcome.reason)
            raise exceptions.ActionFailed(
                'Server %s: %s' % (request.label, outcome.reason))
        LOG.info('Server %s: %s', request.label, outcome.reason)
        # What post_condition may reuse: the look the verdict came from,
        # not a later or earlier one of another wait.
        tracker.last_look = outcome.look
        self.result_message = outcome.reason
        self._succeeded = True
        return True

    def _recently_checked(self):
        """The server as pre_condition found it, if that was just now.

        The applier runs execute right after pre_condition: checking the
        same things again would only cost Nova requests. Nova itself still
        refuses a move the state no longer allows (e.g. 409 when busy).
        """
        if self._checked is None:
            return None
        checked_at, server = self._checked
        self._checked = None
        if time.monotonic() - checked_at > PRE_CONDITION_REUSE:
            return None
        return server

    def _timeout(self, server):
        request = self.request
        fixed = (self.settings.live_timeout if request.live
                 else self.settings.cold_timeout)
        if fixed:
            return fixed
        return max(self.settings.timeout_floor,
                   int(self.settings.timeout_per_gib * server.size_gib))

    # -- live -------------------------------------------------------------

    def _live_verdict(self, tracker, source, started_at):
        """The server decides: on the destination and idle is success.

        Nova moves the server (host, task cleared) before it marks the
        record completed, and the record then follows on its own; it is
        read only to say why a migration ended with the server elsewhere.
        """
        odd = tracking.Grace()

        def evaluate(look):
            if look.server_gone:
                return tracking.Outcome(
                    False, 'the server was deleted during its live '
                    'migration from %s' % source, look)
            server = look.server
            if server is None or server.task_state is not None:
                return None
            if tracker.on_destination(server, source):
                if server.status in tracking.LIVE_OK_STATUSES:
                    if tracker.schedule is not None:
                        tracker.schedule.landed(tracker.wall())
                    tracker.completed()
                    number = (' (migration %s)' % tracker.migration_id
                              if tracker.migration_id else '')
                    return tracking.Outcome(
                        True, 'live migrated from %s to %s%s'
                        % (source, server.host, number), look)
                look = dataclasses.replace(
                    look, migration=tracker.final_record())
                return tracking.Outcome(
                    False, 'live migration from %s ended but %s'
                    % (source, tracker.describe(look)), look)
            return tracker.failed_move(look, source, odd)
        return evaluate

    def _follow_live(self, tracker, timeout):
        source = self._source
        evaluate = self._live_verdict(tracker, source, tracker.clock())
        try:
            return tracker.wait_live(
                evaluate, timeout,
                'live migration of %s' % tracker.request.label, source)
        except waiting.WaitCancelled:
            return self._stopped_by_abort(self._stop_live(tracker))
        except waiting.WaitTimeout as e:
            return self._live_timed_out(tracker, e, evaluate)

    def _live_timed_out(self, tracker, timeout, evaluate):
        LOG.warning('Server %s: live migration still in progress after %d s '
                    '(%s); applying timeout_action=%s', tracker.request.label,
                    timeout.waited, tracker.describe(timeout.last),
                    self.settings.timeout_action)
        if self.settings.timeout_action == options.TIMEOUT_FORCE_COMPLETE:
            outcome = self._force_complete(tracker, evaluate)
            if outcome is not None:
                return outcome
        outcome = self._stop_live(tracker)
        if outcome.ok:
            return tracking.Outcome(
                True, 'live migration completed while being aborted after '
                'its %d s timeout: %s' % (timeout.waited, outcome.reason),
                outcome.look)
        return tracking.Outcome(
            False, 'live migration from %s to %s did not finish within %d s '
            'and was aborted: %s' % (self._source,
                                     tracker.request.destination_label,
                                     timeout.waited, outcome.reason),
            outcome.look)

    def _force_complete(self, tracker, evaluate):
        """Force a running migration to complete; None if it could not."""
        look = tracker.look()
        if look.status != 'running':
            LOG.warning('Server %s: migration is %s, not running: it cannot '
                        'be forced to complete, aborting it instead',
                        tracker.request.label, look.status)
            return None
        try:
            self.gateway.force_complete(tracker.request.server_id,
                                        look.migration.id)
        except (nova_gateway.NovaRefused,
                nova_gateway.WriteOutcomeUnknown) as e:
            LOG.warning('Server %s: %s', tracker.request.label, e)
        try:
            outcome = tracker.wait(
                evaluate, self.settings.settle_timeout,
                'force-complete of %s' % tracker.request.label)
        except (waiting.WaitTimeout, waiting.WaitCancelled):
            return None
        if outcome.ok:
            return tracking.Outcome(
                True, outcome.reason + ', forced to complete at its timeout',
                outcome.look)
        return outcome

    def _stop_live(self, tracker):
        """Abort our live migration and wait until Nova has settled.

        :returns: an Outcome, ok if the migration completed anyway
        """
        request = tracker.request
        deadline = tracker.clock() + self.settings.settle_timeout
        sent_at = None
        # Why the last abort request may not have reached Nova, if it may
        # not have: the failure message must say so.
        lost = None
        schedule = waiting.PollSchedule(self.settings.poll_interval_min,
                                        self.settings.poll_interval_max)
        while True:
            look = tracker.look()
            migration = look.migration
            if migration is None or migration.status not in \
                    tracking.LIVE_IN_PROGRESS:
                if look.settled:
                    break
            elif self._abortable(migration) and (
                    sent_at is None
                    or tracker.clock() - sent_at >= ABORT_RESEND):
                # Again while Nova still runs it: an abort whose request
                # was lost changes nothing, a second one is harmless.
                sent, lost = self._send_abort(request, migration)
                if sent:
                    sent_at = tracker.clock()
            if tracker.clock() >= deadline:
                raise exceptions.ActionFailed(
                    'Server %s: abort of the live migration requested but '
                    'Nova did not settle within %d s: %s%s'
                    % (request.label, self.settings.settle_timeout,
                       tracker.describe(look),
                       '; the last abort request: %s' % lost if lost
                       else ''))
            self._cancel_safe_sleep(schedule.next_delay(look.status))
        completed = (migration is not None
                     and migration.status == tracking.COMPLETED
                     and not look.server_gone
                     and tracker.on_destination(look.server, self._source))
        return tracking.Outcome(completed, tracker.describe(look), look)

    def _abortable(self, migration):
        if migration.status == 'running':
            return True
        return (migration.status in tracking.LIVE_ABORTABLE
                and self.gateway.supports(
                    nova_gateway.ABORT_QUEUED_MICROVERSION))

    def _send_abort(self, request, migration):
        """Ask Nova to abort; returns (sent, why it may not have arrived)."""
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

    @staticmethod
    def _cancel_safe_sleep(delay):
        # Stopping must not itself be interrupted by the cancel event.
        threading.Event().wait(delay)

    # -- cold -------------------------------------------------------------

    def _cold_verdict(self, tracker, source, started_at):
        """The server decides, as for live.

        VERIFY_RESIZE on the destination is 'resized', its original status
        there (confirmed by Nova's resize_confirm_window) 'confirmed';
        idle anywhere else is a failure whose reason the record gives.
        """
        odd = tracking.Grace()

        def evaluate(look):
            if look.server_gone:
                return tracking.Outcome(
                    False, 'the server was deleted during its cold '
                    'migration from %s' % source, look)
            server = look.server
            if server is None or server.task_state is not None:
                return None
            if tracker.on_destination(server, source):
                if server.status == tracking.VERIFY_RESIZE:
                    return tracking.Outcome(True, 'resized', look)
                if server.status in tracking.COLD_OK_STATUSES:
                    return tracking.Outcome(True, 'confirmed', look)
            return tracker.failed_move(look, source, odd)
        return evaluate

    def _follow_cold(self, tracker, timeout, original_status):
        source = self._source
        evaluate = self._cold_verdict(tracker, source, tracker.clock())
        what = 'cold migration of %s' % tracker.request.label
        try:
            outcome = tracker.wait_server(evaluate, timeout, what)
        except waiting.WaitCancelled:
            return self._stopped_by_abort(self._stop_cold(tracker, evaluate))
        except waiting.WaitTimeout as e:
            # A cold migration cannot be aborted: let Nova reach a stable
            # state, then put the server back.
            LOG.warning('Server %s: cold migration still in progress after '
                        '%d s (%s); reverting it once Nova settles',
                        tracker.request.label, e.waited,
                        tracker.describe(e.last))
            stopped = self._stop_cold(tracker, evaluate)
            return tracking.Outcome(
                False, 'cold migration from %s to %s did not finish within '
                '%d s and was reverted: %s' % (
                    source, tracker.request.destination_label, e.waited,
                    stopped.reason), stopped.look)
        if not outcome.ok or outcome.reason == 'confirmed':
            return self._cold_result(outcome, source)
        if not self.settings.auto_confirm:
            return tracking.Outcome(
                True, 'cold migrated from %s to %s, left in VERIFY_RESIZE '
                'for an operator to confirm (auto_confirm is off)'
                % (source, outcome.look.server.host), outcome.look)
        return self._confirm(tracker, source, original_status)

    def _cold_result(self, outcome, source):
        if outcome.ok:
            return tracking.Outcome(
                True, 'cold migrated from %s to %s (already confirmed)'
                % (source, outcome.look.server.host), outcome.look)
        return outcome

    def _confirm(self, tracker, source, original_status):
        request = tracker.request

        def evaluate(look):
            if look.server_gone:
                return tracking.Outcome(
                    False, 'the server was deleted while its migration was '
                    'being confirmed', look)
            server = look.server
            if server is None or server.task_state is not None:
                return None
            if server.status == 'ERROR' or not tracker.on_destination(
                    server, source):
                # Failed, or reverted by someone else meanwhile.
                look = dataclasses.replace(
                    look, migration=tracker.final_record())
                return tracking.Outcome(
                    False, 'confirming the cold migration from %s failed: %s'
                    % (source, tracker.describe(look)), look)
            if server.status == tracking.VERIFY_RESIZE:
                if tracker.clock() - sent[0] >= CONFIRM_RESEND:
                    self._confirm_again(tracker)
                    sent[0] = tracker.clock()
                return None
            number = (' (migration %s)' % tracker.migration_id
                      if tracker.migration_id else '')
            if server.status == original_status:
                return tracking.Outcome(
                    True, 'cold migrated from %s to %s and confirmed%s, %s '
                    'as before' % (source, server.host, number,
                                   server.status), look)
            return tracking.Outcome(
                False, 'cold migration confirmed but %s (was %s)'
                % (tracker.describe(look), original_status), look)

        self._send_confirm(tracker)
        sent = [tracker.clock()]
        what = 'confirm of %s' % request.label
        try:
            return tracker.wait_server(evaluate, self.settings.settle_timeout,
                                       what)
        except waiting.WaitCancelled:
            # Too late to go back: the confirm is on its way; finish it.
            tracker.cancel = None
            return tracker.wait_server(evaluate, self.settings.settle_timeout,
                                       what)
        except waiting.WaitTimeout as e:
            return tracking.Outcome(
                False, 'confirm of the cold migration was requested but Nova '
                'did not finish it within %d s: %s'
                % (self.settings.settle_timeout, tracker.describe(e.last)),
                e.last)

    def _confirm_again(self, tracker):
        """Send the confirm again if Nova never received it.

        Nova marks the record 'confirming' while it answers the request,
        so a record still 'finished' means the request was lost; a second
        confirm of a migration already confirming is refused, harmlessly.
        """
        record = tracker.final_record()
        if record is not None and record.status == tracking.FINISHED:
            LOG.warning('Server %s: Nova has not received the confirm of '
                        'migration %s; sending it again',
                        tracker.request.label, record.id)
            self._send_confirm(tracker)

    def _send_confirm(self, tracker):
        request = tracker.request
        try:
            self.gateway.confirm_resize(request.server_id)
        except (nova_gateway.WriteOutcomeUnknown,
                exceptions.NovaUnavailable) as e:
            LOG.warning('Server %s: %s; the state of the migration will '
                        'tell', request.label, e)
        except nova_gateway.NovaRefused as e:
            # Already confirming or confirmed (an earlier, lost answer);
            # anything else shows in the wait's verdict.
            LOG.warning('Server %s: %s', request.label, e)

    def _stop_cold(self, tracker, evaluate):
        """Bring a cold migration back to the source once Nova allows."""
        request = tracker.request
        tracker.cancel = None
        try:
            reached = tracker.wait(evaluate, self.settings.settle_timeout,
                                   'cold migration of %s to settle'
                                   % request.label)
        except waiting.WaitTimeout as e:
            raise exceptions.ActionFailed(
                'Server %s: cold migration could not be stopped: Nova did '
                'not settle within %d s: %s'
                % (request.label, self.settings.settle_timeout,
                   tracker.describe(e.last)))
        look = reached.look
        if not reached.ok or reached.reason == 'confirmed':
            on_destination = (not look.server_gone and look.server and
                              tracker.on_destination(look.server,
                                                     self._source))
            return tracking.Outcome(bool(on_destination),
                                    tracker.describe(look), look)
        return self._revert(tracker)

    def _revert(self, tracker):
        request = tracker.request
        LOG.warning('Server %s: reverting cold migration %s',
                    request.label, tracker.migration_id)

        def send():
            try:
                self.gateway.revert_resize(request.server_id)
            except (nova_gateway.WriteOutcomeUnknown, nova_gateway.NovaRefused,
                    exceptions.NovaUnavailable) as e:
                LOG.warning('Server %s: %s', request.label, e)
            return tracker.clock()

        sent = [send()]

        def evaluate(look):
            if look.server_gone:
                return tracking.Outcome(False, 'server deleted', look)
            if look.settled and look.status in (tracking.REVERTED,) + \
                    tuple(tracking.FAILED):
                return tracking.Outcome(False, tracker.describe(look), look)
            if look.settled and look.status == tracking.FINISHED and \
                    tracker.clock() - sent[0] >= CONFIRM_RESEND:
                # Still 'finished': the revert request never reached Nova.
                LOG.warning('Server %s: Nova has not received the revert; '
                            'sending it again', request.label)
                sent[0] = send()
            return None

        try:
            return tracker.wait(evaluate, self.settings.settle_timeout,
                                'revert of %s' % request.label)
        except waiting.WaitTimeout as e:
            raise exceptions.ActionFailed(
                'Server %s: revert of the cold migration requested but Nova '
                'did not finish it within %d s: %s'
                % (request.label, self.settings.settle_timeout,
                   tracker.describe(e.last)))

    # -- abort, revert, post_condition ------------------------------------

    def _stopped_by_abort(self, outcome):
        """Record the answer abort() returns; execute then fails."""
        self._abort_result = not outcome.ok
        if outcome.ok:
            return tracking.Outcome(
                True, 'migration completed before the abort took effect: %s'
                % outcome.reason, outcome.look)
        return tracking.Outcome(
            False, 'migration aborted on request: %s' % outcome.reason,
            outcome.look)

    def abort(self):
        """Stop the migration; safe to call from another thread any time.

        :returns: True if the server ended on the source, False if the
            migration completed anyway
        """
        self._cancel.set()
        if self._tracker is not None:
            self._tracker.interrupt()
        with self._lock:
            executing = self._executing
        if executing:
            # execute() notices the cancel at its next poll, stops the
            # migration itself and waits for Nova to settle.
            self._execute_done.wait()
            if self._abort_result is not None:
                return self._abort_result
        return self._stop_leftovers()

    def _stop_leftovers(self):
        """After execute (or without it): stop ours, report the placement."""
        request = self._resolve()
        tracker = self._tracker
        if tracker is not None:
            tracker.cancel = None
            look = tracker.look(with_server=True)
            migration = look.migration
            if migration is not None and request.live and \
                    migration.status in tracking.LIVE_IN_PROGRESS:
                look = self._stop_live(tracker).look
            elif migration is not None and not request.live and (
                    migration.status in tracking.COLD_IN_PROGRESS
                    or migration.status == tracking.FINISHED):
                evaluate = self._cold_verdict(tracker, self._source,
                                              tracker.clock())
                look = self._stop_cold(tracker, evaluate).look
            server = look.server
        else:
            server = self.gateway.get_server(request.server_id)
        return (server is not None
                and server.host == (self._source or request.source_node))

    def revert(self):
        """Move the server back to the source.

        Only if it is on the destination; otherwise do nothing.
        """
        request = self._resolve()
        server = self.gateway.get_server(request.server_id)
        if server is None:
            LOG.info('Revert: server %s not found, nothing to revert',
                     request.label)
            return False
        source = self._source or request.source_node
        if server.host == source:
            LOG.info('Revert: server %s is on its source %s, nothing to '
                     'revert', request.label, source)
            return True
        if request.destination_node and \
                server.host != request.destination_node:
            LOG.warning('Revert: server %s is on %s, not on destination %s:'
                        ' not moving it', request.label, server.host,
                        request.destination_node)
            return False
        if server.status == tracking.VERIFY_RESIZE and \
                self._tracker is not None:
            self._revert(self._tracker)
            server = self.gateway.get_server(request.server_id)
            return server is not None and server.host == source
        back = Migrate(self.config, osc=self._osc)
        back._settings = self._settings
        back._gateway = self.gateway
        back.input_parameters = {
            parameters.RESOURCE_ID: request.server_id,
            parameters.MIGRATION_TYPE: request.migration_type,
            parameters.SOURCE_NODE: server.host,
            parameters.DESTINATION_NODE: source,
            parameters.RESOURCE_NAME: request.server_name,
        }
        LOG.info('Revert: moving server %s back from %s to %s',
                 request.label, server.host, source)
        return back.execute()

    def post_condition(self):
        """Check the final placement; leave nothing of ours in progress.

        Safe when nothing ran (failed pre_condition, cancelled plan).
        """
        tracker = self._tracker
        if tracker is None:
            return
        request = self.request
        tracker.cancel = None
        if self._succeeded:
            # execute saw the server land; Nova completes the record
            # on its own. Only the placement is left to check.
            look = tracker.last_look
            if look is None or look.server is None or \
                    tracker.clock() - look.at > POST_CONDITION_REUSE:
                look = tracker.server_look()
            if look.server_gone or not tracker.on_destination(
                    look.server, self._source):
                raise exceptions.ActionFailed(
                    'Server %s: reported migrated, but %s'
                    % (request.label, tracker.describe(look)))
            return
        look = tracker.look(with_server=True)
        migration = look.migration
        in_progress = migration is not None and (
            migration.status in tracking.LIVE_IN_PROGRESS if request.live
            else migration.status in tracking.COLD_IN_PROGRESS)
        if look.server_gone and not self._succeeded:
            # Nothing of a deleted server can be stopped: Nova ends its
            # migration with it, and execute has said why the move failed.
            if in_progress:
                LOG.warning('Server %s: deleted; Nova ends its migration %s '
                            '(%s) with it', request.label, migration.id,
                            migration.status)
            return
        if in_progress or (not request.live and self.settings.auto_confirm
                           and migration is not None
                           and migration.status == tracking.FINISHED):
            LOG.error('Server %s: migration %s still %s after execute; '
                      'stopping it', request.label, migration.id,
                      migration.status)
            self._stop_leftovers()
            raise exceptions.ActionFailed(
                'Server %s: migration %s was still %s after execute and was '
                'stopped' % (request.label, migration.id, migration.status))
        if self._succeeded and (look.server_gone or not
                                tracker.on_destination(look.server,
                                                       self._source)):
            raise exceptions.ActionFailed(
                'Server %s: reported migrated, but %s'
                % (request.label, tracker.describe(look)))
