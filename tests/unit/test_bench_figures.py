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

"""The benchmark's live copies save their figures as production does."""

import pytest

from bench import report
from bench import workloads
from embedded_nova import driver_behaviour

INTERVAL = 'live_migration_monitor_interval'
RUNS = {'full': workloads.workloads(),
        'quick': workloads.workloads(quick=True)}


def live(plan):
    return [w for w in plan if w.kind == 'live']


@pytest.mark.parametrize('run', sorted(RUNS))
def test_live_workloads_save_figures_at_the_libvirt_drivers_default(run):
    cadences = {w.name: w.driver_behaviour()[INTERVAL]
                for w in live(RUNS[run]) if not w.name.endswith('-nofig')}
    assert cadences
    assert set(cadences.values()) == {
        driver_behaviour.DEFAULT_BEHAVIOUR[INTERVAL]} == {5.0}


@pytest.mark.parametrize('run', sorted(RUNS))
def test_a_run_has_a_no_figures_twin_of_a_live_workload(run):
    plan = {w.name: w for w in RUNS[run]}
    twins = [w for w in plan.values() if w.name.endswith('-nofig')]
    assert len(twins) == 1
    twin = twins[0]
    assert twin.driver_behaviour()[INTERVAL] == 0
    original = plan[twin.name[:-len('-nofig')]]
    assert (twin.kind, twin.duration, twin.chain, twin.width) == (
        original.kind, original.duration, original.chain, original.width)


@pytest.mark.parametrize('run', sorted(RUNS))
def test_the_fake_driver_accepts_every_workloads_settings(run):
    registry = driver_behaviour.DriverRegistry()
    for workload in RUNS[run]:
        registry.configure(workload.name, **workload.driver_behaviour())


def test_cold_workloads_have_no_figures_cadence():
    cold = workloads.Workload('cold-3s', 'cold', 3)
    assert INTERVAL not in cold.driver_behaviour()
    assert cold.as_dict()['figures_interval'] is None


def row(workload, figures_interval):
    figures = {'median': 1.0, 'p95': 1.0}
    return {'workload': workload, 'variant': 'plugin', 'migrations': 1,
            'succeeded': 1, 'latency': figures,
            'figures_interval': figures_interval,
            'reads_per_migration': 1.0, 'writes_per_migration': 1.0,
            'requests_per_second': 1.0, 'wall_seconds': 1.0,
            'applier_cpu_seconds': 1.0, 'nova_cpu_seconds': 1.0}


def test_the_table_shows_each_rows_figures_cadence():
    lines = report.table([row('live-60s', 5.0), row('live-60s-nofig', 0.0),
                          row('cold-3s', None)]).splitlines()
    assert lines[0].split()[:3] == ['workload', 'variant', 'figs']
    cells = [line.split()[:3] for line in lines[2:] if line]
    assert cells == [['live-60s', 'plugin', '5s'],
                     ['live-60s-nofig', 'plugin', 'none'],
                     ['cold-3s', 'plugin', '-']]
