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

"""check and the plan runner, with a scripted action instead of Migrate."""

import threading
import time
import uuid

import pytest

from watcher_migrate import exceptions
from watcher_migrate import plan
from watcher_migrate import plan_runner


class FakeAction(object):
    """Scripted stand-in for Migrate: resource_name says what it does.

    ``ok``: succeeds; ``skip``: pre_condition skips; ``gone``:
    pre_condition finds no such server and skips; ``down``: pre_condition
    finds the compute API unavailable; ``fail``: pre_condition fails;
    ``crash``: execute raises ActionFailed; ``false``: execute returns
    False; ``post``: post_condition fails; ``block``: execute waits until
    abort() (which then reports the server on its source). Every call is
    recorded in ``log`` as (name, phase).
    """

    log = []
    lock = threading.Lock()

    def __init__(self, config, osc=None):
        self.config = config
        self.osc = osc
        self.input_parameters = {}
        self.progress = None
        self._aborted = threading.Event()
        self.started = threading.Event()

    @property
    def name(self):
        return self.input_parameters.get('resource_name', '')

    @property
    def script(self):
        return self.name.split('-')[0]

    def _note(self, phase):
        with self.lock:
            self.log.append((self.name, phase))

    def validate_parameters(self):
        self._note('validate')
        if 'resource_id' not in self.input_parameters:
            raise exceptions.InvalidParameters(
                "Invalid input parameters: 'resource_id': required")
        return True

    def pre_condition(self):
        self._note('pre')
        if self.script == 'skip':
            raise exceptions.ActionSkipped('%s: already there' % self.name)
        if self.script == 'gone':
            # What the CLI's observing action records for a missing server.
            self.server_seen = None
            raise exceptions.ActionSkipped('%s: not found' % self.name)
        if self.script == 'down':
            raise exceptions.NovaUnavailable('%s: the compute API kept '
                                             'failing' % self.name)
        if self.script == 'fail':
            raise exceptions.ActionFailed('%s: host is down' % self.name)

    def execute(self):
        self._note('execute')
        self.started.set()
        if self.script == 'crash':
            raise exceptions.ActionFailed('%s: Nova said no' % self.name)
        if self.script == 'false':
            return False
        if self.script == 'block':
            # Long enough for an abort on a machine under heavy load.
            self._aborted.wait(120)
            raise exceptions.ActionFailed('%s: migration aborted on request'
                                          % self.name)
        return True

    def post_condition(self):
        self._note('post')
        if self.script == 'post':
            raise exceptions.ActionFailed('%s: still migrating' % self.name)

    def abort(self):
        self._note('abort')
        self._aborted.set()
        return True


@pytest.fixture(autouse=True)
def clean_log():
    FakeAction.log = []


def entry(name, uuid_=None, parents=None):
    item = {'action_type': 'nova_migrate',
            'input_parameters': {'resource_id': str(uuid.uuid4()),
                                 'resource_name': name,
                                 'migration_type': 'live',
                                 'source_node': 'host1',
                                 'destination_node': 'host2'}}
    if uuid_:
        item['uuid'] = uuid_
    if parents:
        item['parents'] = parents
    return item


def make_action(input_parameters):
    action = FakeAction({})
    action.input_parameters = input_parameters
    return action


def run(*entries, workers=4):
    runner = plan_runner.PlanRunner(plan.parse(list(entries)), make_action,
                                    workers=workers)
    runner.run()
    return runner


def states(runner):
    return {r.server: r.state for r in runner.records}


def order_of(name, phase):
    return FakeAction.log.index((name, phase))


# -- the flow -----------------------------------------------------------------


def test_flow_has_one_task_per_action():
    runner = plan_runner.PlanRunner(
        plan.parse([entry('ok-1'), entry('ok-2')]), make_action)
    assert sorted(t.name for t in runner.build_flow()) == [
        'action-1', 'action-2']


def test_flow_links_each_parent_to_its_child():
    runner = plan_runner.PlanRunner(plan.parse(
        [entry('ok-1', 'a'), entry('ok-2', 'b', ['a']),
         entry('ok-3', 'c', ['a', 'b'])]), make_action)
    graph = runner.build_flow().iter_links()
    assert sorted((u.name, v.name) for u, v, _ in graph) == [
        ('action-1', 'action-2'), ('action-1', 'action-3'),
        ('action-2', 'action-3')]


def test_child_starts_only_after_its_parent_ended():
    run(entry('ok-child', 'b', ['a']), entry('ok-parent', 'a'))
    assert order_of('ok-parent', 'post') < order_of('ok-child', 'validate')


def test_children_of_a_failed_action_are_not_run():
    runner = run(entry('fail-1', 'a'), entry('ok-2', 'b', ['a']))
    assert states(runner) == {'fail-1': 'failed', 'ok-2': 'not run'}
    assert ('ok-2', 'validate') not in FakeAction.log


def test_not_run_child_names_its_failed_parent():
    runner = run(entry('fail-1', 'a'), entry('ok-2', 'b', ['a']))
    assert runner.record(2).reason == 'parent #1 (a) failed'


def test_grandchildren_of_a_failed_action_are_not_run():
    runner = run(entry('crash-1', 'a'), entry('ok-2', 'b', ['a']),
                 entry('ok-3', 'c', ['b']))
    assert states(runner)['ok-3'] == 'not run'
    assert runner.record(3).reason == 'parent #2 (b) was not run'


def test_children_of_a_skipped_action_run():
    runner = run(entry('skip-1', 'a'), entry('ok-2', 'b', ['a']))
    assert states(runner) == {'skip-1': 'skipped', 'ok-2': 'succeeded'}


def test_failure_does_not_stop_independent_actions():
    runner = run(entry('fail-1', 'a'), entry('ok-2', 'b'),
                 entry('ok-3', 'c', ['b']), workers=1)
    assert states(runner) == {'fail-1': 'failed', 'ok-2': 'succeeded',
                              'ok-3': 'succeeded'}


def test_actions_without_parents_run_in_parallel():
    # Both block until aborted: only parallel runs get both started.
    runner = plan_runner.PlanRunner(
        plan.parse([entry('block-1'), entry('block-2')]), make_action,
        workers=2)
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
            r.action is not None and r.action.started.is_set()
            for r in runner.records):
        time.sleep(0.01)
    started = [r.action is not None and r.action.started.is_set()
               for r in runner.records]
    runner.abort()
    thread.join(10)
    assert started == [True, True]


# -- one action ---------------------------------------------------------------


@pytest.mark.parametrize('name,state,reason', [
    ('ok-1', 'succeeded', ''),
    ('skip-1', 'skipped', 'skip-1: already there'),
    ('fail-1', 'failed', 'fail-1: host is down'),
    ('crash-1', 'failed', 'crash-1: Nova said no'),
    ('false-1', 'failed', 'execute returned False'),
    ('post-1', 'failed', 'post-1: still migrating'),
])
def test_action_result_and_reason(name, state, reason):
    runner = run(entry(name))
    assert (runner.record(1).state, runner.record(1).reason) == (
        state, reason)


def test_skipped_action_is_not_executed():
    run(entry('skip-1'))
    assert [p for _, p in FakeAction.log] == ['validate', 'pre']


def test_post_condition_runs_after_a_failed_pre_condition():
    run(entry('fail-1'))
    assert [p for _, p in FakeAction.log] == ['validate', 'pre', 'post']


def test_invalid_parameters_fail_the_action_before_pre_condition():
    item = entry('ok-1')
    del item['input_parameters']['resource_id']
    runner = run(item)
    assert runner.record(1).state == 'failed'
    assert ('ok-1', 'pre') not in FakeAction.log


# -- abort --------------------------------------------------------------------


def _start_blocked(*entries, workers=4):
    runner = plan_runner.PlanRunner(plan.parse(list(entries)), make_action,
                                    workers=workers)
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            r.action is not None and r.action.started.is_set()
            for r in runner.records):
        time.sleep(0.01)
    return runner, thread


def test_abort_calls_abort_on_the_running_action():
    runner, thread = _start_blocked(entry('block-1'))
    aborted = runner.abort()
    thread.join(10)
    runner.wait_aborted(10)
    assert [r.index for r in aborted] == [1]
    assert ('block-1', 'abort') in FakeAction.log


def test_aborted_action_is_reported_aborted():
    runner, thread = _start_blocked(entry('block-1'))
    runner.abort()
    thread.join(10)
    runner.wait_aborted(10)
    assert runner.record(1).state == 'aborted'


def test_abort_starts_no_further_action():
    # One worker: whichever starts first, the other waits for it.
    runner, thread = _start_blocked(entry('block-1'), entry('block-2'),
                                    workers=1)
    runner.abort()
    thread.join(10)
    assert sorted(r.state for r in runner.records) == ['aborted', 'not run']
    assert len([p for _, p in FakeAction.log if p == 'validate']) == 1


def test_child_of_an_aborted_action_is_not_run():
    runner, thread = _start_blocked(entry('block-1', 'a'),
                                    entry('ok-2', 'b', ['a']))
    runner.abort()
    thread.join(10)
    assert (runner.record(2).state, runner.record(2).reason) == (
        'not run', 'parent #1 (a) aborted')


def test_action_not_started_at_abort_says_the_run_was_interrupted():
    runner, thread = _start_blocked(entry('block-1'), entry('block-2'),
                                    workers=1)
    runner.abort()
    thread.join(10)
    waiting = [r for r in runner.records if r.state == 'not run']
    assert [r.reason for r in waiting] == [
        'not started: the run was interrupted']


# -- exit codes and check -----------------------------------------------------


@pytest.mark.parametrize('results,interrupted,code', [
    (['succeeded', 'skipped'], False, 0),
    (['succeeded', 'failed'], False, 1),
    (['succeeded', 'not run'], False, 1),
    (['aborted'], False, 1),
    (['succeeded'], True, 130),
])
def test_run_exit_code(results, interrupted, code):
    records = [plan_runner.ActionRecord(None, state=s) for s in results]
    assert plan_runner.run_exit_code(records, interrupted) == code


def test_check_gives_each_action_its_verdict_and_reason():
    verdicts = plan_runner.check(
        plan.parse([entry('ok-1'), entry('skip-2'), entry('fail-3')]),
        make_action)
    assert [(v.verdict, v.reason) for v in verdicts] == [
        ('ready', 'the server is on its source and can move'),
        ('would skip', 'skip-2: already there'),
        ('would fail', 'fail-3: host is down')]


def test_check_never_executes():
    plan_runner.check(plan.parse([entry('ok-1'), entry('skip-2')]),
                      make_action)
    assert {p for _, p in FakeAction.log} == {'validate', 'pre'}


def test_check_says_a_child_was_checked_before_its_parents_ran():
    verdicts = plan_runner.check(
        plan.parse([entry('ok-1', 'a'), entry('skip-2', 'b', ['a'])]),
        make_action)
    assert verdicts[1].reason.endswith('(checked now, before #1 (a) runs)')


def test_check_reports_invalid_parameters_as_would_fail():
    item = entry('ok-1')
    del item['input_parameters']['resource_id']
    verdicts = plan_runner.check(plan.parse([item]), make_action)
    assert verdicts[0].verdict == 'would fail'


@pytest.mark.parametrize('verdicts,code', [
    (['ready', 'would skip'], 0),
    (['ready', 'would fail'], 1),
    (['ready', 'not found'], 0),
    (['would fail', 'not checked'], 1),
])
def test_check_exit_code(verdicts, code):
    assert plan_runner.check_exit_code(
        [plan_runner.Verdict(None, v) for v in verdicts]) == code


@pytest.mark.parametrize('verdicts,code', [
    (['ready', 'would skip'], 0),
    (['ready', 'not found'], 1),
])
def test_strict_check_exit_code_fails_on_a_server_not_found(verdicts, code):
    assert plan_runner.check_exit_code(
        [plan_runner.Verdict(None, v) for v in verdicts],
        strict=True) == code


def test_check_tells_a_server_not_found_from_a_skip():
    verdicts = plan_runner.check(
        plan.parse([entry('skip-1'), entry('gone-2')]), make_action)
    assert [v.verdict for v in verdicts] == ['would skip', 'not found']


def test_nothing_exists_only_when_every_server_is_not_found():
    gone = plan_runner.check(
        plan.parse([entry('gone-1'), entry('gone-2')]), make_action)
    some = plan_runner.check(
        plan.parse([entry('gone-1'), entry('skip-2')]), make_action)
    assert (plan_runner.nothing_exists(gone),
            plan_runner.nothing_exists(some)) == (True, False)


def test_check_stops_once_the_compute_api_is_unavailable():
    verdicts = plan_runner.check(
        plan.parse([entry('ok-1'), entry('down-2'), entry('ok-3'),
                    entry('ok-4')]), make_action)
    assert [v.verdict for v in verdicts] == [
        'ready', 'would fail', 'not checked', 'not checked']
    assert ('ok-3', 'pre') not in FakeAction.log
    assert verdicts[3].reason == ('not checked: the compute API is '
                                  'unavailable (see #2)')


class SeenServer(object):
    name = 'web-7'


class NamedAction(FakeAction):
    """Reports the server its pre_condition read, as the CLI's does."""

    def pre_condition(self):
        super().pre_condition()
        self.server_seen = SeenServer()


def unnamed_entry(uuid_=None):
    item = entry('ok-1', uuid_)
    del item['input_parameters']['resource_name']
    return item


def make_named_action(input_parameters):
    action = NamedAction({})
    action.input_parameters = input_parameters
    return action


def test_check_names_the_server_nova_named():
    [verdict] = plan_runner.check(plan.parse([unnamed_entry()]),
                                  make_named_action)
    assert (verdict.server(), verdict.server(show_id=True)) == (
        'web-7', 'web-7 (%s)' % verdict.server_id)


def test_check_shows_the_id_of_a_server_it_could_not_name():
    [verdict] = plan_runner.check(plan.parse([unnamed_entry()]),
                                  make_action)
    assert verdict.server() == verdict.server_id


def test_run_names_the_server_nova_named():
    runner = plan_runner.PlanRunner(plan.parse([unnamed_entry()]),
                                    make_named_action)
    runner.run()
    assert runner.record(1).server == 'web-7'


def test_run_shows_ids_next_to_names_when_asked():
    runner = plan_runner.PlanRunner(plan.parse([entry('ok-1')]),
                                    make_action, show_ids=True)
    record = runner.record(1)
    assert record.server == 'ok-1 (%s)' % record.server_id


@pytest.mark.parametrize('reason,shown', [
    ('Server ID (web-1) is on host1', 'Server web-1 is on host1'),
    ('Server ID not found', 'Server web-1 not found'),
    ('migration 4 failed', 'migration 4 failed'),
])
def test_name_servers_puts_the_name_for_the_uuid(reason, shown):
    assert plan_runner.name_servers(reason, 'ID', 'web-1') == shown


class StaleAction(NamedAction):
    def pre_condition(self):
        self.server_seen = SeenServer()
        raise exceptions.ActionSkipped(
            'Server %s is on host9: the plan is stale'
            % self.input_parameters['resource_id'])


def make_stale_action(input_parameters):
    action = StaleAction({})
    action.input_parameters = input_parameters
    return action


def test_check_reasons_name_the_server_and_keep_the_uuid_when_asked():
    parsed = plan.parse([unnamed_entry()])
    [short] = plan_runner.check(parsed, make_stale_action)
    [full] = plan_runner.check(parsed, make_stale_action, show_ids=True)
    assert (short.reason, full.reason) == (
        'Server web-7 is on host9: the plan is stale',
        'Server %s is on host9: the plan is stale' % full.server_id)


@pytest.mark.parametrize('show_ids', [False, True])
def test_run_reasons_name_the_server_and_keep_the_uuid_when_asked(
        show_ids):
    runner = plan_runner.PlanRunner(plan.parse([unnamed_entry()]),
                                    make_stale_action, show_ids=show_ids)
    runner.run()
    record = runner.record(1)
    assert record.reason == 'Server %s is on host9: the plan is stale' % (
        record.server_id if show_ids else 'web-7')


def test_run_marks_an_action_whose_server_is_not_found():
    runner = run(entry('gone-1'), entry('skip-2'))
    assert [(r.state, r.not_found) for r in runner.records] == [
        ('skipped', True), ('skipped', False)]


def test_strict_run_exit_code_fails_on_a_server_not_found():
    runner = run(entry('ok-1'), entry('gone-2'))
    assert (plan_runner.run_exit_code(runner.records),
            plan_runner.run_exit_code(runner.records, strict=True)) == (0, 1)


def test_locate_servers_fills_now_on_and_survives_errors():
    runner = plan_runner.PlanRunner(
        plan.parse([entry('ok-1'), entry('ok-2')]), make_action)
    first = runner.record(1).server_id

    def locate(server_id):
        if server_id == first:
            return 'host2 (ACTIVE)'
        raise RuntimeError('boom')

    runner.locate_servers(locate)
    assert [r.now_on for r in runner.records] == [
        'host2 (ACTIVE)', 'unknown (RuntimeError: boom)']


def test_locate_servers_learns_the_name_nova_gives():
    runner = plan_runner.PlanRunner(plan.parse([unnamed_entry()]),
                                    make_action)
    runner.locate_servers(lambda server_id: ('host2 (ACTIVE)', 'web-9'))
    assert (runner.record(1).now_on, runner.record(1).server) == (
        'host2 (ACTIVE)', 'web-9')
