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

"""What one look says of a move: tables of looks and their phases."""

import pytest

from watcher_migrate import nova_gateway
from watcher_migrate import phases
from watcher_migrate import tracking
from watcher_migrate import tuning

LIVE = phases.Target(live=True, source='compute-1', destination='compute-2')
COLD = phases.Target(live=False, source='compute-1', destination='compute-2')
ANYWHERE = phases.Target(live=True, source='compute-1')
GRACE = tuning.RECORDS_AGREE_GRACE


def server(host='compute-1', status='ACTIVE', task=None):
    return nova_gateway.ServerView(
        id='s', name='vm', status=status, task_state=task, host=host)


def record(status):
    return nova_gateway.MigrationView(
        id=100, status=status, source_compute='compute-1',
        migration_type='live-migration')


def look(srv=None, rec=None, gone=False):
    return tracking.Look(migration=rec, server=srv, server_gone=gone)


@pytest.mark.parametrize('observed, target, unexplained_for, phase', [
    (look(gone=True), LIVE, 0.0, phases.GONE),
    (look(gone=True), COLD, 0.0, phases.GONE),
    (look(), LIVE, 0.0, None),
    (look(server(task='migrating')), LIVE, 0.0, None),
    (look(server('compute-2')), LIVE, 0.0, phases.LANDED),
    (look(server('compute-2', 'PAUSED')), LIVE, 0.0, phases.LANDED),
    (look(server('compute-3')), ANYWHERE, 0.0, phases.LANDED),
    (look(server('compute-2', 'SHUTOFF')), LIVE, 0.0,
     phases.LANDED_UNWELL),
    (look(server('compute-2', 'VERIFY_RESIZE')), COLD, 0.0,
     phases.RESIZED),
    (look(server('compute-2', 'SHUTOFF')), COLD, 0.0, phases.LANDED),
    (look(server(status='ERROR')), LIVE, 0.0, phases.FAILED),
    (look(server(), record('error')), LIVE, 0.0, phases.FAILED),
    (look(server(), record('running')), LIVE, 0.0, None),
    (look(server(), record('running')), LIVE, GRACE, phases.FAILED),
    (look(server()), LIVE, 0.0, None),
    (look(server()), LIVE, GRACE, phases.NEVER_STARTED),
])
def test_the_phase_of_a_move_followed(observed, target, unexplained_for,
                                      phase):
    assert phases.of_move(observed, target, unexplained_for) == phase


@pytest.mark.parametrize('observed, needed', [
    (look(server('compute-2')), False),
    (look(server(task='migrating')), False),
    (look(gone=True), False),
    (look(server()), True),
    (look(server('compute-2', 'SHUTOFF')), True),
])
def test_only_an_idle_server_not_landed_well_needs_its_record(observed,
                                                              needed):
    assert phases.needs_record(observed, LIVE) is needed


@pytest.mark.parametrize('observed, phase', [
    (look(gone=True), phases.GONE),
    (look(server('compute-2', task='resize_confirming')), None),
    (look(server('compute-2', 'VERIFY_RESIZE')), phases.RESIZED),
    (look(server('compute-2', 'SHUTOFF')), phases.CONFIRMED),
    (look(server('compute-2', 'ACTIVE')), phases.CONFIRMED_CHANGED),
    (look(server('compute-2', 'ERROR')), phases.FAILED),
    (look(server('compute-1', 'SHUTOFF')), phases.FAILED),
])
def test_the_phase_of_a_confirm(observed, phase):
    assert phases.of_confirm(observed, COLD, 'SHUTOFF') == phase


@pytest.mark.parametrize('observed, phase', [
    (look(server(), record('running')), None),
    (look(server(task='migrating'), record('cancelled')), None),
    (look(server(), record('cancelled')), phases.SETTLED),
    (look(server('compute-2'), record('completed')), phases.SETTLED),
    (look(gone=True, rec=record('running')), None),
    (look(gone=True), phases.SETTLED),
])
def test_the_phase_of_a_live_migration_being_aborted(observed, phase):
    assert phases.of_stopping_live(observed) == phase


@pytest.mark.parametrize('observed, phase', [
    (look(gone=True), phases.GONE),
    (look(server(task='resize_reverting'), record('reverting')), None),
    (look(server('compute-2', 'VERIFY_RESIZE'), record('finished')),
     phases.RESIZED),
    (look(server(), record('reverted')), phases.REVERT_ENDED),
    (look(server(), record('error')), phases.REVERT_ENDED),
])
def test_the_phase_of_a_revert(observed, phase):
    assert phases.of_revert(observed) == phase


@pytest.mark.parametrize('status, live, auto_confirm, left', [
    ('running', True, True, True),
    ('completed', True, True, False),
    ('migrating', False, True, True),
    ('finished', False, True, True),
    ('finished', False, False, False),
    ('confirmed', False, True, False),
])
def test_what_is_left_to_stop_after_execute(status, live, auto_confirm,
                                            left):
    observed = look(server(), record(status))
    assert phases.leftover(observed, live, auto_confirm) is left


def test_no_record_leaves_nothing_to_stop():
    assert not phases.leftover(look(server()), True, True)
