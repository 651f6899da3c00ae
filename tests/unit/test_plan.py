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

"""Plan files: what is accepted, and how each refusal names the action."""

import json

import pytest

from watcher_migrate import plan

PARAMS = {'resource_id': '0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3',
          'migration_type': 'live', 'source_node': 'host1',
          'destination_node': 'host2'}


def act(uuid=None, parents=None, action_type='nova_migrate', **extra):
    item = {'action_type': action_type, 'input_parameters': dict(PARAMS)}
    if uuid is not None:
        item['uuid'] = uuid
    if parents is not None:
        item['parents'] = parents
    item.update(extra)
    return item


GOOD = [
    # (case, data, expected parents by index)
    ('bare list', [act()], {1: ()}),
    ('wrapped in actions', {'actions': [act()]}, {1: ()}),
    ('built-in migrate type', [act(action_type='migrate')], {1: ()}),
    ('no uuids', [act(), act()], {1: (), 2: ()}),
    ('parents by uuid', [act('b', ['a']), act('a')], {1: (2,), 2: ()}),
    ('two parents', [act('a'), act('b'), act('c', ['a', 'b'])],
     {1: (), 2: (), 3: (1, 2)}),
    ('parent listed twice', [act('a'), act('b', ['a', 'a'])],
     {1: (), 2: (1,)}),
    ('null parents', [act('a', None)], {1: ()}),
    ('watcher export fields', [act('a', state='PENDING',
                                   action_plan_uuid='x', description='d')],
     {1: ()}),
    ('diamond', [act('a'), act('b', ['a']), act('c', ['a']),
                 act('d', ['b', 'c'])],
     {1: (), 2: (1,), 3: (1,), 4: (2, 3)}),
]


@pytest.mark.parametrize('case,data,parents', GOOD,
                         ids=[g[0] for g in GOOD])
def test_valid_plan_is_parsed_with_parents_as_indexes(case, data, parents):
    parsed = plan.parse(data)
    assert {a.index: a.parents for a in parsed.actions} == parents


BAD = [
    # (case, data, words the error must contain)
    ('not a list', {'x': 1}, ['expected a list of actions']),
    ('a string', 'actions', ['expected a list of actions', 'str']),
    ('empty', [], ['no actions']),
    ('action not a mapping', [act(), 'x'],
     ['action #2', 'expected a mapping']),
    ('unsupported type', [act('a', action_type='resize')],
     ['action #1 (a)', "'resize'", 'nova_migrate or migrate']),
    ('missing type', [{'input_parameters': PARAMS}],
     ['action #1', 'action_type is missing']),
    ('parameters not a mapping', [act(input_parameters=['x'])],
     ['action #1', 'input_parameters', 'expected a mapping']),
    ('parameters missing', [{'action_type': 'migrate'}],
     ['action #1', 'input_parameters', 'null']),
    ('parents not a list', [act('a'), act('b', 'a')],
     ['action #2 (b)', 'parents', 'list of action uuids']),
    ('misspelt key', [act('a', parent=['x'])],
     ['action #1 (a)', "unknown key 'parent'"]),
    ('empty uuid', [act('')], ['action #1', 'uuid', 'non-empty string']),
    ('duplicate uuid', [act('a'), act('a')],
     ['action #2 (a)', 'duplicate uuid', 'action #1']),
    ('unknown parent', [act('a', ['zz'])],
     ['action #1 (a)', "unknown action uuid 'zz'"]),
    ('own parent', [act('a', ['a'])],
     ['action #1 (a)', 'its own parent']),
    ('cycle', [act('a', ['c']), act('b', ['a']), act('c', ['b'])],
     ['cycle', 'action #1 (a)', 'action #2 (b)', 'action #3 (c)']),
]


@pytest.mark.parametrize('case,data,words', BAD, ids=[b[0] for b in BAD])
def test_invalid_plan_is_refused_naming_the_action(case, data, words):
    with pytest.raises(plan.PlanError) as caught:
        plan.parse(data, source='p.json')
    message = str(caught.value)
    assert message.startswith('p.json: invalid plan')
    for word in words:
        assert word in message


def test_every_problem_of_a_plan_is_reported_at_once():
    with pytest.raises(plan.PlanError) as caught:
        plan.parse([act(action_type='resize'), act('a', ['zz'])])
    assert len(caught.value.problems) == 2


def test_cycle_is_reported_as_the_path_that_loops():
    parsed = plan.Plan(actions=(
        plan.PlanAction(1, 'migrate', {}, 'a', (2,)),
        plan.PlanAction(2, 'migrate', {}, 'b', (1,)),
        plan.PlanAction(3, 'migrate', {}, 'c', ())))
    assert plan.find_cycle(parsed) == [1, 2, 1]


def test_input_parameters_are_kept_as_written():
    # Their validation is the action's, which names the parameter.
    parsed = plan.parse([act(input_parameters={'bogus': 1})])
    assert parsed.actions[0].input_parameters == {'bogus': 1}


def test_json_file_is_loaded(tmp_path):
    path = tmp_path / 'plan.json'
    path.write_text(json.dumps([act('a'), act('b', ['a'])]))
    assert [a.uuid for a in plan.load(str(path)).actions] == ['a', 'b']


def test_yaml_file_is_loaded(tmp_path):
    path = tmp_path / 'plan.yaml'
    path.write_text('actions:\n'
                    '  - uuid: a\n'
                    '    action_type: migrate\n'
                    '    input_parameters: {resource_id: x}\n'
                    '  - uuid: b\n'
                    '    parents: [a]\n'
                    '    action_type: nova_migrate\n'
                    '    input_parameters: {resource_id: y}\n')
    loaded = plan.load(str(path))
    assert [(a.uuid, a.parents) for a in loaded.actions] == [
        ('a', ()), ('b', (1,))]


def test_broken_json_file_says_it_is_not_json(tmp_path):
    path = tmp_path / 'plan.json'
    path.write_text('[{"action_type": ')
    with pytest.raises(plan.PlanError, match='not valid JSON'):
        plan.load(str(path))


def test_broken_yaml_file_says_it_is_neither_json_nor_yaml(tmp_path):
    path = tmp_path / 'plan.yaml'
    path.write_text('actions: [\n  - {')
    with pytest.raises(plan.PlanError, match='neither valid JSON nor valid'):
        plan.load(str(path))


def test_missing_file_is_a_plan_error_naming_it(tmp_path):
    path = str(tmp_path / 'nope.json')
    with pytest.raises(plan.PlanError, match='cannot read the file') as e:
        plan.load(path)
    assert e.value.source == path


def test_label_names_position_and_uuid():
    parsed = plan.parse([act(), act('u-2')])
    assert [a.label for a in parsed.actions] == ['#1', '#2 (u-2)']
