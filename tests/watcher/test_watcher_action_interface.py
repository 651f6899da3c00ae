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

"""Our BaseAction keeps the contract of the installed Watcher's BaseAction.

``watcher_migrate.action_base.BaseAction`` mirrors
``watcher.applier.actions.base.BaseAction`` so that the plugin runs without
Watcher. These tests compare the two (and ``Migrate``) member by member, so
that a Watcher release that adds or changes a method, a property, the
constructor or a constant fails here, loudly, instead of in an applier.
"""

import inspect

import pytest

from watcher.applier.actions import base as watcher_base
from watcher_migrate import action
from watcher_migrate import action_base

THEIRS = watcher_base.BaseAction
OURS = (action_base.BaseAction, action.Migrate)
# Public class attributes of Watcher's that ours deliberately lack, and why.
NOT_NEEDED = {
    # Only read by Watcher's own check_abort(), which ours overrides.
    'ABORT_TRUE',
}


# The contract of python-watcher 17.0.0: the comparison must cover it.
KNOWN_CONTRACT = {'execute', 'revert', 'pre_condition', 'post_condition',
                  'schema', 'validate_parameters', 'get_description',
                  'get_config_opts', 'check_abort', 'input_parameters',
                  'resource_id', 'osc'}


def kind(cls, name):
    """'property', 'classmethod', 'staticmethod', 'method' or 'data'."""
    member = inspect.getattr_static(cls, name)
    if isinstance(member, property):
        return 'property'
    if isinstance(member, classmethod):
        return 'classmethod'
    if isinstance(member, staticmethod):
        return 'staticmethod'
    if inspect.isfunction(member):
        return 'method'
    return 'data'


def public_members(cls):
    return sorted(name for name in dir(cls) if not name.startswith('_'))


def accepts_every_call_of(ours, theirs):
    """Whether any call valid for ``theirs`` is valid for ``ours``.

    Same positional parameters, in the same order and with the same
    defaults; ours may add parameters only if they are optional.
    """
    mine = list(inspect.signature(ours).parameters.values())
    their = list(inspect.signature(theirs).parameters.values())
    if [(p.name, p.kind, p.default) for p in mine[:len(their)]] != \
            [(p.name, p.kind, p.default) for p in their]:
        return False
    return all(p.default is not p.empty
               or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in mine[len(their):])


def concrete_watcher_action():
    """An instance of Watcher's BaseAction, its abstract methods unset."""
    cls = type('WatcherAction', (THEIRS,), {})
    cls.__abstractmethods__ = frozenset()
    return cls({})


def test_the_comparison_covers_the_contract_known_today():
    compared = {name for name in public_members(THEIRS)
                if kind(THEIRS, name) != 'data'}
    assert KNOWN_CONTRACT <= compared


@pytest.mark.parametrize('cls', OURS, ids=lambda c: c.__name__)
@pytest.mark.parametrize('name', [
    name for name in public_members(THEIRS)
    if kind(THEIRS, name) != 'data'])
def test_every_watcher_method_and_property_exists_with_its_kind(cls, name):
    assert hasattr(cls, name)
    assert kind(cls, name) == kind(THEIRS, name)


@pytest.mark.parametrize('cls', OURS, ids=lambda c: c.__name__)
@pytest.mark.parametrize('name', [
    name for name in public_members(THEIRS)
    if kind(THEIRS, name) in ('method', 'classmethod', 'staticmethod')])
def test_every_watcher_method_accepts_the_calls_watcher_makes(cls, name):
    assert accepts_every_call_of(getattr(cls, name), getattr(THEIRS, name))


@pytest.mark.parametrize('cls', OURS, ids=lambda c: c.__name__)
@pytest.mark.parametrize('name', [
    name for name in public_members(THEIRS)
    if kind(THEIRS, name) == 'property'])
def test_every_settable_watcher_property_is_settable(cls, name):
    theirs = inspect.getattr_static(THEIRS, name)
    ours = inspect.getattr_static(cls, name)
    assert (ours.fset is not None) == (theirs.fset is not None)


@pytest.mark.parametrize('cls', OURS, ids=lambda c: c.__name__)
def test_the_constructor_signature_is_watchers(cls):
    assert inspect.signature(cls.__init__) == \
        inspect.signature(THEIRS.__init__)


@pytest.mark.parametrize('cls', OURS, ids=lambda c: c.__name__)
def test_get_config_opts_is_a_classmethod(cls):
    assert isinstance(inspect.getattr_static(THEIRS, 'get_config_opts'),
                      classmethod)
    assert kind(cls, 'get_config_opts') == 'classmethod'
    assert isinstance(cls.get_config_opts(), list)


def test_watcher_constants_have_the_same_values_or_are_not_needed():
    for name in public_members(THEIRS):
        if kind(THEIRS, name) != 'data' or name in NOT_NEEDED:
            continue
        assert getattr(action_base.BaseAction, name) == \
            getattr(THEIRS, name), name


def test_every_member_not_needed_still_exists_in_watcher():
    # An entry left here after Watcher drops the member hides nothing, but
    # says something false: remove it.
    assert NOT_NEEDED <= set(public_members(THEIRS))


def test_instances_carry_watchers_public_attributes():
    theirs = concrete_watcher_action()
    ours = action.Migrate({})
    for name in vars(theirs):
        if not name.startswith('_'):
            assert hasattr(ours, name), name


def test_what_watcher_requires_is_what_ours_requires():
    assert set(THEIRS.__abstractmethods__) <= \
        set(action_base.BaseAction.__abstractmethods__)


def test_migrate_implements_every_abstract_method():
    assert action.Migrate.__abstractmethods__ == frozenset()


def test_migrate_can_be_aborted_as_the_engine_does():
    # TaskFlowActionContainer.do_abort calls abort(), which Watcher's base
    # class does not declare.
    assert kind(action.Migrate, 'abort') == 'method'
    assert accepts_every_call_of(action.Migrate.abort, lambda self: None)
