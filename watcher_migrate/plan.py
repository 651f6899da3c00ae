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

"""A plan file for the command-line tool: reading and validating it.

A plan is a list of actions in the shape Watcher stores them (``action_type``,
``input_parameters``, optional ``uuid`` and ``parents``), either bare or as
``{"actions": [...]}``, in JSON or YAML. Everything wrong with the file's
structure is reported at once, each problem naming the action by its
position and uuid, before anything is sent to Nova. The input parameters
themselves are left to the action's own validation, which names the
parameter.
"""

import dataclasses
import json
import os

# Both run with this plugin's action: a plan written for Watcher's built-in
# ``migrate`` has the same input parameters.
ACTION_TYPES = ('nova_migrate', 'migrate')

ACTION_TYPE = 'action_type'
INPUT_PARAMETERS = 'input_parameters'
UUID = 'uuid'
PARENTS = 'parents'

# Other fields of a Watcher action (``openstack optimize action show -f
# json``): accepted and ignored so a plan exported from Watcher loads as it
# is. Any other key is refused, since a misspelt ``parents`` silently
# ignored would run actions in parallel that must not be.
WATCHER_FIELDS = frozenset([
    'id', 'action_plan_id', 'action_plan_uuid', 'state', 'description',
    'status_message', 'created_at', 'updated_at', 'deleted_at', 'deleted',
    'links', 'next_uuid', 'Action Plan', 'UUID', 'State',
])
KNOWN_KEYS = frozenset([ACTION_TYPE, INPUT_PARAMETERS, UUID, PARENTS])

JSON_SUFFIXES = ('.json',)


class PlanError(ValueError):
    """The plan file cannot be used; ``problems`` lists every reason."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        super().__init__('%s: invalid plan:\n  %s'
                         % (source, '\n  '.join(self.problems)))


@dataclasses.dataclass(frozen=True)
class PlanAction:
    """One action of a plan, as written in the file.

    ``index`` is its 1-based position in the file; ``parents`` are the
    indexes of the actions it waits for.
    """

    index: int
    action_type: str
    input_parameters: dict
    uuid: str = None
    parents: tuple = ()

    @property
    def label(self):
        """How every message names the action: position and uuid."""
        if self.uuid:
            return '#%d (%s)' % (self.index, self.uuid)
        return '#%d' % self.index

    def parameter(self, name):
        """A raw input parameter for display, None if absent."""
        value = self.input_parameters.get(name)
        return value if isinstance(value, str) else None


@dataclasses.dataclass(frozen=True)
class Plan:
    """The validated actions of a plan, in file order."""

    actions: tuple
    source: str = '<plan>'

    def action(self, index):
        return self.actions[index - 1]


def load(path):
    """Read and validate a plan file (JSON, or YAML if PyYAML is present).

    :raises PlanError: naming every problem found
    """
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as e:
        raise PlanError(path, ['cannot read the file: %s' % e])
    return parse(decode(text, path), source=path)


def decode(text, source='<plan>'):
    """JSON or YAML text to Python data; JSON errors win for .json files."""
    try:
        return json.loads(text)
    except ValueError as e:
        json_error = e
    if os.path.splitext(source)[1].lower() in JSON_SUFFIXES:
        raise PlanError(source, ['not valid JSON: %s' % json_error])
    try:
        import yaml
    except ImportError:
        raise PlanError(source, [
            'not valid JSON (%s), and PyYAML is not installed to read it '
            'as YAML' % json_error])
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PlanError(source, ['neither valid JSON nor valid YAML: %s'
                                 % str(e).replace('\n', ' ')])


def parse(data, source='<plan>'):
    """Validate decoded plan data and return a :class:`Plan`.

    :raises PlanError: naming every problem found
    """
    if isinstance(data, dict) and set(data) == {'actions'}:
        data = data['actions']
    if not isinstance(data, list):
        raise PlanError(source, [
            'expected a list of actions or {"actions": [...]}, got %s'
            % _kind(data)])
    if not data:
        raise PlanError(source, ['the plan has no actions'])
    problems = []
    raw = []
    for index, item in enumerate(data, start=1):
        raw.append(_parse_action(index, item, problems))
    by_uuid = {}
    for action in raw:
        if action is None or not action.uuid:
            continue
        if action.uuid in by_uuid:
            problems.append('action %s: duplicate uuid, already used by '
                            'action #%d' % (action.label,
                                            by_uuid[action.uuid]))
        else:
            by_uuid[action.uuid] = action.index
    actions = []
    for action in raw:
        if action is None:
            continue
        parents = []
        for parent in action.parents:
            if parent not in by_uuid:
                problems.append('action %s: parents: unknown action uuid %r'
                                % (action.label, parent))
            elif parent == action.uuid:
                problems.append('action %s: parents: an action cannot be '
                                'its own parent' % action.label)
            elif by_uuid[parent] not in parents:
                parents.append(by_uuid[parent])
        actions.append(dataclasses.replace(action, parents=tuple(parents)))
    if problems:
        raise PlanError(source, problems)
    plan = Plan(actions=tuple(actions), source=source)
    cycle = find_cycle(plan)
    if cycle:
        raise PlanError(source, ['parents form a cycle: %s' % ' -> '.join(
            'action %s' % plan.action(i).label for i in cycle)])
    return plan


def _kind(value):
    return 'null' if value is None else type(value).__name__


def _parse_action(index, item, problems):
    """A PlanAction with parents still as uuids, or None if unusable."""
    where = 'action #%d' % index
    if not isinstance(item, dict):
        problems.append('%s: expected a mapping, got %s'
                        % (where, _kind(item)))
        return None
    uuid = item.get(UUID)
    if uuid is not None:
        if not isinstance(uuid, str) or not uuid.strip():
            problems.append('%s: uuid: must be a non-empty string, got %r'
                            % (where, uuid))
            uuid = None
        else:
            where = 'action #%d (%s)' % (index, uuid)
    ok = True
    unknown = sorted(str(k) for k in item
                     if k not in KNOWN_KEYS and k not in WATCHER_FIELDS)
    if unknown:
        problems.append('%s: unknown key%s %s' % (
            where, 's' if len(unknown) > 1 else '',
            ', '.join(repr(k) for k in unknown)))
        ok = False
    action_type = item.get(ACTION_TYPE)
    if action_type is None:
        problems.append('%s: action_type is missing' % where)
        ok = False
    elif action_type not in ACTION_TYPES:
        problems.append('%s: action_type %r is not supported (only %s)'
                        % (where, action_type, ' or '.join(ACTION_TYPES)))
        ok = False
    parameters = item.get(INPUT_PARAMETERS)
    if not isinstance(parameters, dict):
        problems.append('%s: input_parameters: expected a mapping, got %s'
                        % (where, _kind(parameters)))
        ok = False
    parents = item.get(PARENTS)
    if parents is None:
        parents = []
    if not isinstance(parents, list) or not all(
            isinstance(p, str) for p in parents):
        problems.append('%s: parents: expected a list of action uuids, got '
                        '%r' % (where, parents))
        ok = False
    if not ok:
        return None
    return PlanAction(index=index, action_type=action_type,
                      input_parameters=dict(parameters), uuid=uuid,
                      parents=tuple(parents))


def find_cycle(plan):
    """One cycle of parent links as indexes (each waits for the next).

    None when the parent links form no cycle.
    """
    done = set()
    for start in plan.actions:
        if start.index in done:
            continue
        # Iterative depth-first search along parent links.
        path = [start.index]
        stack = [iter(start.parents)]
        while stack:
            parent = next(stack[-1], None)
            if parent is None:
                stack.pop()
                done.add(path.pop())
            elif parent in path:
                return path[path.index(parent):] + [parent]
            elif parent not in done:
                path.append(parent)
                stack.append(iter(plan.action(parent).parents))
    return None
