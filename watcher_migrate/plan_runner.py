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

"""Checking and running a plan with the action, the way Watcher does.

``check`` asks every action whether it could run now (validate_parameters
and pre_condition only: reads, no moves). ``PlanRunner`` runs the plan as
Watcher's applier does: a taskflow graph flow on the parallel engine, one
task per action driving pre_condition / execute / post_condition, parents
linked to their children with a decider, so the children of an action that
failed (or did not run) are not run. As in Watcher, a failure never reaches
taskflow, so taskflow reverts nothing; a skipped action counts as done for
its children.
"""

import dataclasses
import threading
import time
import warnings

from oslo_log import log

from watcher_migrate import exceptions
from watcher_migrate import parameters

with warnings.catch_warnings():
    # oslo.utils, imported by taskflow, warns when it finds eventlet
    # installed (as it is next to Nova); the tool never uses eventlet.
    warnings.simplefilter('ignore')
    import futurist
    from taskflow import engines
    from taskflow.patterns import graph_flow
    from taskflow import task as flow_task

LOG = log.getLogger(__name__)

DEFAULT_WORKERS = 4

# Verdicts of check. "not found" is a skip too, told apart because a
# mistyped UUID (or the wrong cloud) looks just like a finished move.
READY = 'ready'
WOULD_SKIP = 'would skip'
NOT_FOUND = 'not found'
WOULD_FAIL = 'would fail'
NOT_CHECKED = 'not checked'
VERDICTS = (READY, WOULD_SKIP, NOT_FOUND, WOULD_FAIL, NOT_CHECKED)

# Results of run.
PENDING = 'pending'
RUNNING = 'running'
SUCCEEDED = 'succeeded'
SKIPPED = 'skipped'
FAILED = 'failed'
ABORTED = 'aborted'
NOT_RUN = 'not run'

# What lets a child run: like Watcher, a skipped parent does not stop it.
PARENT_DONE = frozenset([SUCCEEDED, SKIPPED])
FINAL = frozenset([SUCCEEDED, SKIPPED, FAILED, ABORTED, NOT_RUN])

# The exit codes of every command (README, "Command-line tool").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

# ``server_seen`` of an action whose pre_condition did not read the server.
NOT_READ = object()


def reason_of(error):
    """The reason an exception gives, for the report.

    The plugin's exceptions carry a full sentence; anything else is
    unexpected, so its class name says more than its text alone.
    """
    if isinstance(error, exceptions.MigrateError):
        return str(error)
    text = str(error)
    name = type(error).__name__
    return '%s: %s' % (name, text) if text else name


def server_seen(action):
    """The server the action's pre_condition read, if it can tell.

    A ServerView, None when Nova does not know it, ``NOT_READ`` when it
    was not read.

    Actions that can tell (the CLI's, see ``cli.observing``) expose it as
    ``server_seen``; reusing that read costs Nova no extra request.
    """
    return getattr(action, 'server_seen', NOT_READ)


def _name_of(seen):
    if seen is NOT_READ or seen is None:
        return None
    return getattr(seen, 'name', None) or None


# -- check -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What check found for one action.

    ``server_name`` is the name Nova gave for the server, when the
    pre-condition read it.
    """

    plan_action: object
    verdict: str
    reason: str = ''
    server_name: str = None

    @property
    def server_id(self):
        return self.plan_action.parameter(parameters.RESOURCE_ID)

    def server(self, show_id=False):
        """The server as tables show it: its name, the id if no name."""
        return _display_server(
            self.plan_action.parameter(parameters.RESOURCE_NAME)
            or self.server_name, self.server_id, show_id)


def name_servers(reason, server_id, name):
    """The reason with the server's UUID replaced by its name.

    The action names a server by its UUID, followed by its name when the
    plan gives one ('UUID (web-1)'); tables show the name alone, and the
    UUID only when asked (-v).
    """
    if not (reason and server_id and name):
        return reason
    return reason.replace('%s (%s)' % (server_id, name), name).replace(
        server_id, name)


def _display_server(name, server_id, show_id):
    if not name:
        return server_id or '?'
    if show_id and server_id:
        return '%s (%s)' % (name, server_id)
    return name


def check(plan, make_action, show_ids=False):
    """Validate and pre-check every action; move nothing.

    Once the compute API is found unavailable (past the action's own
    retry budget), the remaining actions are not checked: they would only
    wait as long again, each, to say the same.

    :param plan: a ``plan.Plan``
    :param make_action: callable(input_parameters) -> a Migrate-like action
    :param show_ids: keep the servers' UUIDs in the reasons
    :returns: a list of :class:`Verdict`, in plan order
    """
    verdicts = []
    unavailable = None
    for planned in plan.actions:
        if unavailable is not None:
            verdicts.append(Verdict(planned, NOT_CHECKED,
                                    'not checked: %s' % unavailable))
            continue
        action = None
        try:
            action = make_action(dict(planned.input_parameters))
            # A check reads only: the journal's orphans are for run.
            action.recovers = False
            action.validate_parameters()
            action.pre_condition()
        except exceptions.ActionSkipped as e:
            verdict = (NOT_FOUND if server_seen(action) is None
                       else WOULD_SKIP)
            reason = reason_of(e)
        except exceptions.NovaUnavailable as e:
            verdict, reason = WOULD_FAIL, reason_of(e)
            unavailable = 'the compute API is unavailable (see %s)' % (
                planned.label)
        except Exception as e:
            verdict, reason = WOULD_FAIL, reason_of(e)
        else:
            verdict, reason = READY, 'the server is on its source and can move'
        if planned.parents:
            # Parents may move this very server first: the verdict is for
            # the cloud as it is now, which the operator must know.
            reason += ' (checked now, before %s run%s)' % (
                ', '.join(plan.action(p).label for p in planned.parents),
                's' if len(planned.parents) == 1 else '')
        name = (planned.parameter(parameters.RESOURCE_NAME)
                or _name_of(server_seen(action)))
        if not show_ids:
            reason = name_servers(
                reason, planned.parameter(parameters.RESOURCE_ID), name)
        verdicts.append(Verdict(planned, verdict, reason,
                                _name_of(server_seen(action))))
    return verdicts


def nothing_exists(verdicts):
    """True when no server of the plan was found at all."""
    return all(v.verdict == NOT_FOUND for v in verdicts)


def check_exit_code(verdicts, strict=False):
    """0 if every action is ready or would skip, else 1.

    An action not checked, or one that would fail, is a failure; a server
    not found is a skip, or a failure when ``strict``.
    """
    failing = {WOULD_FAIL, NOT_CHECKED} | ({NOT_FOUND} if strict else set())
    if any(v.verdict in failing for v in verdicts):
        return EXIT_FAILED
    return EXIT_OK


# -- run ---------------------------------------------------------------------


@dataclasses.dataclass
class ActionRecord:
    """One action of a run: what it is, where it stands, how it ended."""

    plan_action: object
    state: str = PENDING
    reason: str = ''
    started_at: float = None
    ended_at: float = None
    action: object = None
    now_on: str = None
    #: The server's name as Nova gave it (pre_condition's read, or the
    #: read of where it ended up).
    server_name: str = None
    #: pre_condition found no such server (the action was skipped).
    not_found: bool = False
    #: Tables show the server's UUID next to its name (-v).
    show_id: bool = False

    @property
    def index(self):
        return self.plan_action.index

    @property
    def label(self):
        return self.plan_action.label

    @property
    def server_id(self):
        return self.plan_action.parameter(parameters.RESOURCE_ID)

    @property
    def server(self):
        """The server's name (the plan's, else Nova's), else its id."""
        return _display_server(
            self.plan_action.parameter(parameters.RESOURCE_NAME)
            or self.server_name, self.server_id, self.show_id)

    @property
    def migration_type(self):
        return self.plan_action.parameter(parameters.MIGRATION_TYPE) or '?'

    @property
    def source(self):
        return self.plan_action.parameter(parameters.SOURCE_NODE) or '?'

    @property
    def destination(self):
        return (self.plan_action.parameter(parameters.DESTINATION_NODE)
                or '(scheduler)')

    @property
    def progress(self):
        """The action's ``tracking.Progress`` while it runs, else None."""
        action = self.action
        return getattr(action, 'progress', None) if action else None

    def elapsed(self, now):
        if self.started_at is None:
            return None
        return (self.ended_at if self.ended_at is not None
                else now) - self.started_at


def run_exit_code(records, interrupted=False, strict=False):
    """130 if interrupted; else 0 only if all succeeded or were skipped.

    With ``strict`` an action skipped because its server does not exist
    counts as a failure.
    """
    if interrupted:
        return EXIT_INTERRUPTED
    if strict and any(r.not_found for r in records):
        return EXIT_FAILED
    if all(r.state in PARENT_DONE for r in records):
        return EXIT_OK
    return EXIT_FAILED


def _parents_done(history):
    """taskflow decider: run a child only if all its parents are done."""
    return all(result in PARENT_DONE for result in history.values())


class ActionTask(flow_task.Task):
    """The taskflow task of one action; returns the action's result."""

    def __init__(self, runner, record):
        super().__init__(name='action-%d' % record.index)
        self._runner = runner
        self._record = record

    def execute(self):
        return self._runner.run_action(self._record)

    def revert(self, *args, **kwargs):
        # Failures are results, never exceptions, so taskflow reverts only
        # if the runner itself breaks; moving servers back is then not ours
        # to decide (Watcher does not either, by default).
        pass


class PlanRunner(object):
    """Runs a plan's actions on taskflow's parallel engine.

    :param plan: a ``plan.Plan``
    :param make_action: callable(input_parameters) -> a Migrate-like action
    :param workers: how many actions may run at the same time
    """

    def __init__(self, plan, make_action, workers=DEFAULT_WORKERS,
                 clock=time.monotonic, show_ids=False):
        self.plan = plan
        self.records = [ActionRecord(a, show_id=show_ids)
                        for a in plan.actions]
        self.workers = workers
        self.clock = clock
        self.interrupted = False
        self._make_action = make_action
        self._lock = threading.Lock()
        self._cancelled = False
        self._abort_threads = []

    def record(self, index):
        return self.records[index - 1]

    # -- the flow ------------------------------------------------------------

    def build_flow(self):
        """A graph flow: one task per action, a link per parent."""
        flow = graph_flow.Flow('watcher-migrate plan')
        tasks = {r.index: ActionTask(self, r) for r in self.records}
        flow.add(*tasks.values())
        for record in self.records:
            for parent in record.plan_action.parents:
                flow.link(tasks[parent], tasks[record.index],
                          decider=_parents_done)
        return flow

    def run(self):
        """Run the plan to its end; results are in ``records``."""
        # Our own pool, like the engine's 'threaded' executor, but not
        # joined at the end: an engine-owned pool costs a second at exit
        # waiting for idle workers.
        executor = futurist.ThreadPoolExecutor(max_workers=self.workers)
        try:
            engine = engines.load(self.build_flow(), engine='parallel',
                                  executor=executor)
            engine.run()
        finally:
            executor.shutdown(wait=False)
        self._mark_not_run()

    def _mark_not_run(self):
        # Actions the decider left out: say which parent stopped them. Plan
        # order is not dependency order, so settle parents first.
        def settle(record):
            if record.state != PENDING:
                return
            blockers = []
            for parent in record.plan_action.parents:
                settle(self.record(parent))
                if self.record(parent).state not in PARENT_DONE:
                    blockers.append(self.record(parent))
            record.state = NOT_RUN
            if blockers:
                record.reason = '; '.join(
                    'parent %s %s' % (b.label, 'was not run'
                                      if b.state == NOT_RUN else b.state)
                    for b in blockers)
            elif self.interrupted:
                record.reason = 'not started: the run was interrupted'
        for record in self.records:
            settle(record)

    # -- one action ----------------------------------------------------------

    def run_action(self, record):
        """pre_condition, execute, post_condition; returns the result."""
        with self._lock:
            # Under the lock so that abort() sees every action started.
            if self._cancelled:
                record.state = NOT_RUN
                record.reason = 'not started: the run was interrupted'
                return NOT_RUN
            record.started_at = self.clock()
            record.state = RUNNING
            try:
                record.action = self._make_action(
                    dict(record.plan_action.input_parameters))
            except Exception as e:
                return self._end(record, FAILED, reason_of(e))
        state, reason = self._drive(record)
        if state == FAILED and self._cancelled:
            state = ABORTED
        return self._end(record, state, reason)

    def _end(self, record, state, reason):
        record.ended_at = self.clock()
        if not record.show_id:
            reason = name_servers(
                reason, record.server_id,
                record.plan_action.parameter(parameters.RESOURCE_NAME)
                or record.server_name)
        record.reason = reason
        record.state = state
        LOG.debug('Action %s: %s %s', record.label, state, reason)
        return state

    @staticmethod
    def _note_server(record):
        # Before execute: the progress lines show the name from now on.
        seen = server_seen(record.action)
        if seen is None:
            record.not_found = True
        elif _name_of(seen):
            record.server_name = _name_of(seen)

    def _drive(self, record):
        action = record.action
        try:
            action.validate_parameters()
            action.pre_condition()
        except exceptions.ActionSkipped as e:
            self._note_server(record)
            return SKIPPED, reason_of(e)
        except Exception as e:
            self._note_server(record)
            state, reason = FAILED, reason_of(e)
        else:
            self._note_server(record)
            try:
                result = action.execute()
            except Exception as e:
                state, reason = FAILED, reason_of(e)
            else:
                if result is True:
                    # Fakes in tests may not say what they did.
                    state = SUCCEEDED
                    reason = getattr(action, 'result_message', None) or ''
                else:
                    state, reason = FAILED, 'execute returned %r' % (result,)
        # Like Watcher: always, even when nothing ran; it stops anything of
        # ours left in progress.
        try:
            action.post_condition()
        except Exception as e:
            if state == FAILED:
                reason = '%s; post_condition: %s' % (reason, reason_of(e))
            else:
                state, reason = FAILED, reason_of(e)
        return state, reason

    # -- interruption --------------------------------------------------------

    def abort(self):
        """Start no more actions; abort the running ones.

        Each running action's ``abort()`` runs in its own thread (it waits
        for Nova to settle); :meth:`wait_aborted` waits for them.

        :returns: the records being aborted
        """
        with self._lock:
            self._cancelled = True
            self.interrupted = True
            running = [r for r in self.records
                       if r.state == RUNNING and r.action is not None]
        for record in running:
            thread = threading.Thread(target=self._abort_one, args=(record,),
                                      name='abort-%d' % record.index,
                                      daemon=True)
            thread.start()
            self._abort_threads.append(thread)
        return running

    @staticmethod
    def _abort_one(record):
        try:
            record.action.abort()
        except Exception as e:
            LOG.error('Action %s: abort failed: %s', record.label,
                      reason_of(e))

    def wait_aborted(self, timeout=None):
        for thread in self._abort_threads:
            thread.join(timeout)

    # -- where the servers are -----------------------------------------------

    def locate_servers(self, locate):
        """Fill ``now_on`` for each action from ``locate(server_id)``.

        :param locate: callable returning a short description of where
            the server is (e.g. 'host2 (ACTIVE)'), or a pair of that and
            the server's name; exceptions are reported in place of the
            answer
        """
        for record in self.records:
            server_id = record.server_id
            if not server_id:
                continue
            try:
                where = locate(server_id)
            except Exception as e:
                record.now_on = 'unknown (%s)' % reason_of(e)
                continue
            if isinstance(where, tuple):
                where, name = where
                record.server_name = record.server_name or name
            record.now_on = where
