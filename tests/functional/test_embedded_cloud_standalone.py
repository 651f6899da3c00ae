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

"""The embedded cloud on its own, as an operator starts and drives it.

``python -m embedded_nova --hosts ...`` in one process;
what its banner says to paste, its sub-commands and ``watcher-migrate``
in others, as from a second shell.
"""

import os
import re
import subprocess
import sys

import pytest

from embedded_nova import client
from tests import embedded_cloud

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HOSTS = ('host1', 'host2')
TIMEOUT = 180


class Standalone(object):
    """The started process, its banner and the shell it tells about."""

    def __init__(self, process, banner, log):
        self.process = process
        self.banner = banner
        self.log = log
        exports = dict(re.findall(r'^  export (OS_\w+)=(\S+)$', banner,
                                  re.MULTILINE))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith('OS_')}
        self.env.update(exports)
        self.env['PYTHONPATH'] = os.pathsep.join(
            [TOP] + [p for p in os.environ.get('PYTHONPATH', '').split(
                os.pathsep) if p])
        self.exports = exports

    def command(self, *argv):
        """``python -m embedded_nova COMMAND ...``."""
        return subprocess.run(
            [sys.executable, '-m', 'embedded_nova']
            + list(argv), env=self.env, capture_output=True, text=True,
            timeout=TIMEOUT)

    def tool(self, *argv):
        """``watcher-migrate ...`` with the pasted variables only."""
        return subprocess.run(
            [sys.executable, '-m', 'watcher_migrate.cli'] + list(argv),
            env=self.env, capture_output=True, text=True, timeout=TIMEOUT)

    def cloud(self):
        """A helper client on the same cloud, to read what Nova did."""
        return client.EmbeddedNova.attach(
            self.exports['OS_AUTH_URL'].rsplit('/identity', 1)[0])


@pytest.fixture(scope='module')
def standalone(tmp_path_factory):
    python = embedded_cloud.nova_python()
    if not embedded_cloud.has_nova(python):
        pytest.fail('nova is not importable by %s; run through tox -e '
                    'functional' % python)
    log = tmp_path_factory.mktemp('standalone') / 'nova.log'
    embedded_cloud.show_on_failure('standalone embedded Nova log: %s' % log)
    process = subprocess.Popen(
        [python, '-m', 'embedded_nova', '--hosts',
         ','.join(HOSTS), '--log-file', str(log)],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        cwd=TOP)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith('Stop it'):
            break
    if process.poll() is not None or not lines:
        pytest.fail('the embedded Nova did not start:\n%s' % ''.join(lines))
    yield Standalone(process, ''.join(lines), str(log))
    if process.poll() is None:
        process.terminate()
        process.wait(30)


def test_the_banner_gives_every_os_variable_to_paste(standalone):
    assert sorted(standalone.exports) == [
        'OS_AUTH_URL', 'OS_PASSWORD', 'OS_PROJECT_DOMAIN_NAME',
        'OS_PROJECT_NAME', 'OS_REGION_NAME', 'OS_USERNAME',
        'OS_USER_DOMAIN_NAME']


def test_the_banner_says_how_to_stop_the_cloud(standalone):
    assert 'Stop it with Ctrl-C here, "python -m ' \
        'embedded_nova stop", or kill %d.' % (
            standalone.process.pid) in standalone.banner


def test_create_server_boots_it_on_the_chosen_host(standalone):
    result = standalone.command('create-server', '--host', 'host2',
                                '--name', 'alone-created')
    assert result.returncode == 0, result.stderr
    cloud = standalone.cloud()
    server = cloud.server(cloud.find_server('alone-created'))
    assert (server['OS-EXT-SRV-ATTR:host'], server['status']) == (
        'host2', 'ACTIVE')


def test_create_server_on_an_unknown_host_names_the_option(standalone):
    before = len(standalone.cloud().servers())
    result = standalone.command('create-server', '--host', 'host9')
    assert (result.returncode, result.stderr.strip()) == (
        1, 'python -m embedded_nova: error: --host host9: '
           'not a host of this cloud (host1, host2)')
    assert len(standalone.cloud().servers()) == before


def test_the_pasted_variables_let_watcher_migrate_move_a_server(
        standalone):
    standalone.command('create-server', '--host', 'host1', '--name',
                       'alone-moved')
    standalone.command('set-migration', 'alone-moved', '--lasts', '4')
    result = standalone.tool('migrate', 'alone-moved', '--to', 'host2')
    assert result.returncode == 0, result.stdout + result.stderr
    cloud = standalone.cloud()
    server = cloud.server(cloud.find_server('alone-moved'))
    assert server['OS-EXT-SRV-ATTR:host'] == 'host2'
    # Lasting seconds, the copy was seen running with its figures.
    assert re.search(r'running \d+% \(\d+/1024 MiB\)', result.stdout), \
        result.stdout


def test_set_migration_fail_makes_nova_roll_the_move_back(standalone):
    standalone.command('create-server', '--host', 'host1', '--name',
                       'alone-failing')
    setting = standalone.command('set-migration', 'alone-failing',
                                 '--fail', 'rollback')
    assert setting.returncode == 0, setting.stderr
    result = standalone.tool('migrate', 'alone-failing', '--to', 'host2')
    assert result.returncode == 1, result.stdout + result.stderr
    cloud = standalone.cloud()
    uuid = cloud.find_server('alone-failing')
    assert cloud.server(uuid)['OS-EXT-SRV-ATTR:host'] == 'host1'
    assert cloud.migrations(uuid)[0]['status'] == 'failed'


def test_set_migration_never_converge_runs_until_aborted(standalone):
    standalone.command('create-server', '--host', 'host1', '--name',
                       'alone-stuck')
    setting = standalone.command('set-migration', 'alone-stuck',
                                 '--never-converge', '--lasts', '2')
    assert setting.returncode == 0, setting.stderr
    result = standalone.tool('migrate', 'alone-stuck', '--to', 'host2',
                             '--live-timeout', '6')
    assert result.returncode == 1, result.stdout + result.stderr
    assert ('did not finish within its 6 s live_timeout and was aborted'
            in result.stdout)
    cloud = standalone.cloud()
    uuid = cloud.find_server('alone-stuck')
    # A 2 s copy that had not ended after 6 s: it stalled, and the abort
    # left the server where it was.
    assert cloud.migrations(uuid)[0]['status'] == 'cancelled'
    assert cloud.server(uuid)['OS-EXT-SRV-ATTR:host'] == 'host1'


def test_servers_lists_each_server_with_its_host(standalone):
    standalone.command('create-server', '--host', 'host1', '--name',
                       'alone-listed')
    result = standalone.command('servers')
    assert result.returncode == 0, result.stderr
    row = [line.split() for line in result.stdout.splitlines()
           if line.startswith('alone-listed ')]
    assert [(r[2], r[3]) for r in row] == [('host1', 'ACTIVE')]


def test_stop_ends_the_cloud(standalone):
    result = standalone.command('stop')
    assert result.returncode == 0, result.stderr
    rest, _err = standalone.process.communicate(timeout=60)
    assert (standalone.process.returncode, rest.splitlines()[-1]) == (
        0, 'Embedded Nova stopped; its log stays in %s' % standalone.log)
