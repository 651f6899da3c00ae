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

"""``watcher-migrate`` as an operator runs it: a subprocess configured by
OS_* variables, against the real Nova (fake virt driver)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# Polls the one-process Nova less often than the defaults' worst case.
CONFIG = ('[watcher_actions.nova_migrate]\n'
          'poll_interval_min = 0.2\n'
          'poll_interval_max = 1.0\n'
          'settle_timeout = 60\n')
TIMEOUT = 180


@pytest.fixture
def tool(cloud, tmp_path):
    """Runs watcher-migrate with the cloud's credentials; returns Popen."""
    config = tmp_path / 'watcher-migrate.conf'
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update({
        'OS_AUTH_URL': cloud.auth_url, 'OS_USERNAME': cloud.username,
        'OS_PASSWORD': cloud.password, 'OS_PROJECT_NAME': cloud.project_name,
        'OS_USER_DOMAIN_NAME': cloud.user_domain_name,
        'OS_PROJECT_DOMAIN_NAME': cloud.project_domain_name,
        'OS_REGION_NAME': cloud.region_name,
        'PYTHONPATH': os.pathsep.join(
            [TOP] + [p for p in os.environ.get('PYTHONPATH', '').split(
                os.pathsep) if p]),
    })

    def start(*argv):
        return subprocess.Popen(
            [sys.executable, '-m', 'watcher_migrate.cli'] + list(argv)
            + ['--config-file', str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=str(tmp_path),
            # A shell's background job ignores SIGINT; a terminal's
            # Ctrl-C reaches a tool that does not.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return start


def finish(process, timeout=TIMEOUT):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def write_plan(tmp_path, actions):
    path = tmp_path / 'plan.json'
    path.write_text(json.dumps({'actions': actions}))
    return str(path)


def migrate(server, kind, source, destination, uuid=None, parents=None):
    item = {'action_type': 'nova_migrate',
            'input_parameters': {'resource_id': server,
                                 'migration_type': kind,
                                 'source_node': source,
                                 'destination_node': destination}}
    if uuid:
        item['uuid'] = uuid
    if parents:
        item['parents'] = parents
    return item


def placement(cloud, server):
    info = cloud.server(server)
    return info['OS-EXT-SRV-ATTR:host'], info['status']


def row(out, label):
    """The summary (or check) table row of an action."""
    for line in out.splitlines():
        if line.startswith(label + ' '):
            return line
    raise AssertionError('no row %s in:\n%s' % (label, out))


def test_check_gives_each_verdict_and_moves_nothing(cloud, tool, tmp_path):
    server = cloud.create_server('host1')
    plan = write_plan(tmp_path, [
        migrate(server, 'live', 'host1', 'host2'),
        migrate(server, 'live', 'host3', 'host1'),
        migrate(server, 'live', 'host1', 'no-such-host')])
    cloud.reset_requests()
    code, out, err = finish(tool('check', plan))
    writes = cloud.write_requests()
    assert (code, writes) == (1, []), out + err
    assert 'ready' in row(out, '#1')
    assert 'would skip' in row(out, '#2')
    assert 'already on destination host1' in row(out, '#2')
    assert 'would fail' in row(out, '#3')
    assert 'no nova-compute service' in row(out, '#3')


def test_run_moves_live_cold_and_chained_actions(cloud, tool, tmp_path):
    web = cloud.create_server('host1')
    batch = cloud.create_server('host1')
    plan = write_plan(tmp_path, [
        migrate(web, 'live', 'host1', 'host2', uuid='a'),
        migrate(batch, 'cold', 'host1', 'host3', uuid='b'),
        migrate(web, 'live', 'host2', 'host3', uuid='c', parents=['a'])])
    code, out, err = finish(tool('run', plan, '--workers', '2'))
    assert code == 0, out + err
    assert [placement(cloud, s) for s in (web, batch)] == [
        ('host3', 'ACTIVE'), ('host3', 'ACTIVE')]
    assert '3 actions: 3 succeeded' in out


def test_migrate_moves_one_server_by_name(cloud, tool):
    server = cloud.create_server('host2', name='cli-migrate-by-name')
    code, out, err = finish(tool('migrate', 'cli-migrate-by-name',
                                 '--to', 'host4'))
    assert code == 0, out + err
    assert placement(cloud, server) == ('host4', 'ACTIVE')


def test_ctrl_c_aborts_a_live_migration_back_to_its_source(cloud, tool):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=60)
    process = tool('migrate', server, '--to', 'host2')
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        migrations = cloud.migrations(server)
        if migrations and migrations[0]['status'] == 'running':
            break
        time.sleep(1)
    else:
        process.kill()
        pytest.fail('the live migration never ran: %s' % (finish(process),))
    process.send_signal(signal.SIGINT)
    code, out, err = finish(process)
    assert code == 130, out + err
    assert placement(cloud, server) == ('host1', 'ACTIVE')
    assert cloud.migrations(server)[0]['status'] == 'cancelled'
    assert 'aborted' in row(out, '#1')
