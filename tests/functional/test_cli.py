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
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests import embedded_cloud

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
    env = embedded_cloud.cli_env(cloud)

    def start(*argv, drop=()):
        for name in drop:
            env.pop(name, None)
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


@pytest.fixture
def closed_port():
    """A loopback port bound by nobody listening: connections refused."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    yield sock.getsockname()[1]
    sock.close()


def test_missing_password_is_one_line_exit_2_and_no_request(cloud, tool,
                                                            tmp_path):
    server = cloud.create_server('host1')
    plan = write_plan(tmp_path, [migrate(server, 'live', 'host1', 'host2')])
    cloud.reset_requests()
    code, out, err = finish(tool('check', plan, drop=['OS_PASSWORD']))
    assert (code, err, cloud.requests()) == (
        2, 'watcher-migrate: missing authentication setting: --os-password '
           'or OS_PASSWORD\n', [])


def test_unreachable_keystone_is_one_line_exit_3(cloud, tool, tmp_path,
                                                 closed_port):
    plan = write_plan(tmp_path, [migrate(cloud.create_server('host1'),
                                         'live', 'host1', 'host2')])
    url = 'http://127.0.0.1:%d/identity/v3' % closed_port
    code, out, err = finish(tool('check', plan, '--os-auth-url', url))
    assert (code, out, err) == (
        3, '', 'watcher-migrate: cannot reach Keystone at %s: connection '
               'refused\n' % url)


def test_check_finds_an_unreachable_compute_api_once(cloud, tool, tmp_path,
                                                     closed_port):
    servers = [cloud.create_server('host1') for _ in range(3)]
    plan = write_plan(tmp_path, [migrate(s, 'live', 'host1', 'host2')
                                 for s in servers])
    url = 'http://127.0.0.1:%d/v2.1' % closed_port
    unreachable = tmp_path / 'unreachable.conf'
    unreachable.write_text('[watcher_actions.nova_migrate]\n'
                           'endpoint_override = %s\n' % url)
    # The default retry budget: the check must not spend it.
    code, out, err = finish(tool('check', plan, '--config-file',
                                 str(unreachable)))
    assert (code, out, err) == (
        3, '', 'watcher-migrate: cannot reach the compute API at %s: '
               'connection refused\n' % url)


def test_run_against_an_unreachable_compute_api_starts_nothing(
        cloud, tool, tmp_path, closed_port):
    server = cloud.create_server('host1')
    plan = write_plan(tmp_path, [migrate(server, 'live', 'host1', 'host2')])
    unreachable = tmp_path / 'unreachable.conf'
    unreachable.write_text('[watcher_actions.nova_migrate]\n'
                           'endpoint_override = http://127.0.0.1:%d/v2.1\n'
                           % closed_port)
    code, out, err = finish(tool('run', plan, '--config-file',
                                 str(unreachable)))
    assert (code, out) == (3, ''), err
    assert 'cannot reach the compute API' in err
    assert placement(cloud, server) == ('host1', 'ACTIVE')


def unnamed(server, *args):
    return migrate(server, 'live', *args)


def test_check_shows_names_read_from_nova_and_uuids_with_verbose(
        cloud, tool, tmp_path):
    server = cloud.create_server('host1', name='cli-named-web')
    plan = write_plan(tmp_path, [unnamed(server, 'host1', 'host2'),
                                 unnamed(server, 'host3', 'host4')])
    code, out, err = finish(tool('check', plan))
    _, verbose, _ = finish(tool('check', plan, '-v'))
    assert code == 0, out + err
    assert row(out, '#1').split()[1] == 'cli-named-web'
    assert 'Server cli-named-web is on host1, neither' in row(out, '#2')
    assert server not in out
    assert row(verbose, '#1').split()[1:3] == [
        'cli-named-web', '(%s)' % server]
    assert 'Server %s is on host1' % server in row(verbose, '#2')


def test_check_reads_each_server_once(cloud, tool, tmp_path):
    servers = [cloud.create_server('host1') for _ in range(2)]
    plan = write_plan(tmp_path, [unnamed(s, 'host1', 'host2')
                                 for s in servers])
    cloud.reset_requests()
    code, out, err = finish(tool('check', plan))
    reads = [r['path'] for r in cloud.requests()
             if r['method'] == 'GET' and '/servers/' in r['path']]
    assert code == 0, out + err
    assert sorted(reads) == sorted(
        p for p in reads if p.rstrip('/').split('/')[-1] in servers)
    assert len(reads) == len(servers), reads


def test_run_summary_shows_names_read_from_nova(cloud, tool, tmp_path):
    server = cloud.create_server('host1', name='cli-named-run')
    plan = write_plan(tmp_path, [unnamed(server, 'host1', 'host3')])
    code, out, err = finish(tool('run', plan))
    assert code == 0, out + err
    assert row(out, '#1').split()[1] == 'cli-named-run'


def test_check_reports_a_mistyped_uuid_as_not_found(cloud, tool, tmp_path):
    server = cloud.create_server('host1')
    mistyped = server[:-4] + ('0000' if server[-4:] != '0000' else '1111')
    plan = write_plan(tmp_path, [
        unnamed(server, 'host3', 'host1'),
        unnamed(mistyped, 'host1', 'host2')])
    code, out, err = finish(tool('check', plan))
    assert code == 0, out + err
    assert 'would skip' in row(out, '#1')
    assert 'not found' in row(out, '#2')
    assert '1 would skip, 1 not found' in out
    assert err == ''


def test_plan_of_servers_that_do_not_exist_warns_and_fails_strict(
        cloud, tool, tmp_path):
    plan = write_plan(tmp_path, [
        unnamed('0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3', 'host1', 'host2'),
        unnamed('1c9ce5bc-8d22-4c54-b4c2-75b7c9b8d6b4', 'host1', 'host2')])
    cloud.reset_requests()
    results = [finish(tool(command, plan, *strict))
               for command in ('check', 'run')
               for strict in ([], ['--strict'])]
    assert [code for code, _, _ in results] == [0, 1, 0, 1]
    assert all('warning: no server of the plan exists' in err
               for _, _, err in results)
    assert cloud.write_requests() == []


@pytest.mark.parametrize('command', ['check', 'run'])
def test_invalid_parameter_exits_2_from_check_and_run(cloud, tool, tmp_path,
                                                      command):
    server = cloud.create_server('host1')
    bad = migrate(server, 'teleport', 'host1', 'host2')
    code, out, err = finish(tool(command, write_plan(tmp_path, [bad])))
    assert code == 2, out + err
    assert "'migration_type'" in err


def test_migrate_to_the_servers_own_host_says_nothing_to_do(cloud, tool):
    server = cloud.create_server('host2', name='cli-already-there')
    cloud.reset_requests()
    code, out, err = finish(tool('migrate', 'cli-already-there',
                                 '--to', 'host2'))
    assert (code, out, err) == (
        0, 'server cli-already-there is already on host2: nothing to do\n',
        '')
    assert cloud.write_requests() == []
    assert placement(cloud, server) == ('host2', 'ACTIVE')


def test_migrate_from_a_host_the_server_is_not_on_says_where_it_is(
        cloud, tool):
    server = cloud.create_server('host2', name='cli-elsewhere')
    cloud.reset_requests()
    code, out, err = finish(tool('migrate', 'cli-elsewhere', '--to',
                                 'host3', '--from', 'host1'))
    assert (code, err) == (
        1, 'watcher-migrate: server cli-elsewhere is on host2, not on '
           'host1: nothing was moved\n')
    assert cloud.write_requests() == []
    assert placement(cloud, server) == ('host2', 'ACTIVE')
