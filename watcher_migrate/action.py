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
from watcher_migrate import context as process_context
from watcher_migrate import exceptions
from watcher_migrate import keystone_session
from watcher_migrate import moves
from watcher_migrate import nova_gateway
from watcher_migrate import options
from watcher_migrate import parameters
from watcher_migrate import phases
from watcher_migrate import tuning

LOG = log.getLogger(__name__)

PAUSED = 'PAUSED'


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
        #: The ``context.ProcessContext`` the action's gateway is built
        #: with (and its moves follow): the process's unless set before
        #: the first hook. Not a constructor argument: Watcher's is fixed.
        self.context = process_context.default()
        #: The Watcher action's UUID when whoever builds the action knows
        #: it (the journal of moves in flight records it).
        self.action_uuid = None
        #: Whether pre_condition starts the recovery of what dead
        #: processes left in the journal (off for ``watcher-migrate
        #: check``, which must change nothing).
        self.recovers = True
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._executing = False
        self._execute_done = threading.Event()
        # The move execute is following (for abort to interrupt), and the
        # record of what execute did, once it is over.
        self._move = None
        self._executed = None
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
        move = self._move
        return move.progress if move is not None else None

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
            self._gateway = nova_gateway.NovaGateway(
                session, self.settings, context=self.context)
        return self._gateway

    # -- pre_condition ----------------------------------------------------

    def pre_condition(self):
        """Skip what needs no move; fail early on what cannot move."""
        request = self._resolve()
        # The process's first action starts the recovery of what dead
        # processes left; a move of a server being recovered waits for it
        # before its state is judged.
        if self.recovers:
            self.gateway.context.journal(self.settings, self.gateway,
                                         request.server_id)
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
        """The move Nova can make of the server as it is now (kept)."""
        fitted = fit(server, request)
        if fitted is not request:
            self._resolved = fitted
        return fitted

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
        allowed = (phases.LIVE_OK_STATUSES if request.live
                   else phases.COLD_OK_STATUSES)
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
            self._executed = moves.Executed(succeeded=True)
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
                self._executed = moves.Executed(succeeded=True)
                return True
            request = self._fit_to(server, request)
            self.check_movable(request, server)
        move = moves.build(self.gateway, request, self.settings, server.host,
                           cancel=self._cancel, action_uuid=self.action_uuid)
        self._move = move
        if self._cancel.is_set():
            move.interrupt()
        timeout, knob = moves.timeout_for(self.settings, request, server)
        LOG.info('Server %s: starting %s migration from %s to %s '
                 '(timeout %d s)', request.label, request.migration_type,
                 server.host, request.destination_label, timeout)
        outcome = None
        try:
            outcome = move.run(server, timeout, knob)
        finally:
            # Also when the move failed with an exception: abort and
            # post_condition then find what is left of it.
            self._executed = moves.Executed(
                move=move, source=server.host,
                succeeded=outcome is not None and outcome.ok,
                look=outcome.look if outcome is not None else None,
                abort_result=(outcome.abort_result if outcome is not None
                              else None))
        if not outcome.ok:
            LOG.error('Server %s: %s', request.label, outcome.reason)
            raise exceptions.ActionFailed(
                'Server %s: %s' % (request.label, outcome.reason))
        how = move.tracker.followed_by
        LOG.info('Server %s: %s%s', request.label, outcome.reason,
                 ' (%s)' % how if how else '')
        self.result_message = outcome.reason
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
        if time.monotonic() - checked_at > tuning.PRE_CONDITION_REUSE:
            return None
        return server

    # -- abort, revert, post_condition ------------------------------------

    def abort(self):
        """Stop the migration; safe to call from another thread any time.

        Returns within moves.stop_bound (the time execute may need to
        stop the move) even if execute does not finish.

        :returns: True if the server ended on the source, False if the
            migration completed anyway
        """
        self._cancel.set()
        move = self._move
        if move is not None:
            move.interrupt()
        with self._lock:
            executing = self._executing
        if executing:
            # execute() notices the cancel at its next look, stops the
            # migration itself and waits for Nova to settle.
            bound = moves.stop_bound(self.settings)
            if not self._execute_done.wait(bound):
                LOG.warning('Server %s: the migration is still being '
                            'stopped after %.0f s; answering with where '
                            'the server is now', self.request.label, bound)
                return self._on_source(self.gateway.get_server(
                    self.request.server_id))
            done = self._executed
            if done is not None and done.abort_result is not None:
                return done.abort_result
        return self._stop_leftovers()

    def _on_source(self, server):
        done = self._executed
        source = (done.source if done is not None and done.source
                  else self.request.source_node)
        return server is not None and server.host == source

    def _stop_leftovers(self):
        """After execute (or without it): stop ours, report the placement."""
        request = self._resolve()
        done = self._executed
        move = done.move if done is not None else None
        if move is None:
            return self._on_source(self.gateway.get_server(request.server_id))
        look = move.tracker.look(with_server=True)
        # Even with auto_confirm off: an abort leaves nothing resized.
        if phases.leftover(look, move.live, auto_confirm=True):
            look = move.stop().look
        return self._on_source(look.server)

    def revert(self):
        """Move the server back to the source.

        Only if it is on the destination; otherwise do nothing. A resize
        of this action's move waiting in VERIFY_RESIZE is reverted; a
        completed move is reversed by the same kind of move back.
        """
        request = self._resolve()
        server = self.gateway.get_server(request.server_id)
        if server is None:
            LOG.info('Revert: server %s not found, nothing to revert',
                     request.label)
            return False
        done = self._executed
        source = (done.source if done is not None and done.source
                  else request.source_node)
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
        move = done.move if done is not None else None
        if server.status == phases.VERIFY_RESIZE and move is not None and \
                not move.live:
            move.revert()
            return self._on_source(self.gateway.get_server(request.server_id))
        back = fit(server, dataclasses.replace(
            request, source_node=server.host, source_node_id=None,
            destination_node=source, destination_node_id=None))
        self.check_movable(back, server)
        LOG.info('Revert: moving server %s back from %s to %s',
                 request.label, server.host, source)
        move = moves.build(self.gateway, back, self.settings, server.host)
        timeout, knob = moves.timeout_for(self.settings, back, server)
        outcome = move.run(server, timeout, knob)
        if not outcome.ok:
            LOG.error('Server %s: %s', back.label, outcome.reason)
            raise exceptions.ActionFailed(
                'Server %s: %s' % (back.label, outcome.reason))
        LOG.info('Server %s: %s', back.label, outcome.reason)
        return True

    def post_condition(self):
        """Check the final placement; leave nothing of ours in progress.

        Safe when nothing ran (failed pre_condition, cancelled plan).
        """
        done = self._executed
        if done is None or done.move is None:
            return
        request = self.request
        move = done.move
        tracker = move.tracker
        if done.succeeded:
            # execute saw the server land; Nova completes the record
            # on its own. Only the placement is left to check.
            look = done.look
            if look is None or look.server is None or \
                    tracker.clock() - look.at > tuning.POST_CONDITION_REUSE:
                look = tracker.server_look()
            if not phases.stopped_on_destination(look, move.target):
                raise exceptions.ActionFailed(
                    'Server %s: reported migrated, but %s'
                    % (request.label, tracker.describe(look)))
            return
        look = tracker.look(with_server=True)
        migration = look.migration
        if look.server_gone:
            # Nothing of a deleted server can be stopped: Nova ends its
            # migration with it, and execute has said why the move failed.
            if phases.leftover(look, move.live, auto_confirm=False):
                LOG.warning('Server %s: deleted; Nova ends its migration %s '
                            '(%s) with it', request.label, migration.id,
                            migration.status)
            return
        if phases.leftover(look, move.live, self.settings.auto_confirm):
            LOG.error('Server %s: migration %s still %s after execute; '
                      'stopping it', request.label, migration.id,
                      migration.status)
            self._stop_leftovers()
            raise exceptions.ActionFailed(
                'Server %s: migration %s was still %s after execute and was '
                'stopped' % (request.label, migration.id, migration.status))


def fit(server, request):
    """The move Nova can make of the server as it is now.

    Nova refuses to cold-migrate a PAUSED server (409), and Watcher's
    host_maintenance asks a cold migration of every server that is not
    ACTIVE; a live migration moves it and keeps it PAUSED.

    :returns: ``request``, or a live one in its place
    """
    if server is None or request.live or \
            server.status != PAUSED or server.task_state is not None:
        return request
    LOG.warning('Server %s is PAUSED, which Nova cannot cold-migrate: '
                'live-migrating it instead', request.label)
    return dataclasses.replace(request, migration_type=parameters.LIVE)
