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

"""``watcher-migrate run`` on a terminal, as a person sees it.

The tool runs in a tmux pane (a real terminal, on a private tmux server)
against the real Nova; the screen is read with ``capture-pane`` and
Ctrl-C is typed with ``send-keys``, as an operator would.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CONFIG = ('[watcher_actions.nova_migrate]\n'
          'poll_interval_min = 0.2\n'
          'poll_interval_max = 1.0\n'
          'settle_timeout = 120\n')
TIMEOUT = 180
FOOTER = '(Ctrl-C aborts the running migrations)'


class Pane(object):
    """One tmux pane on a tmux server of its own."""

    def __init__(self, socket, name, config):
        self.socket = socket
        self.name = name
        self.config = config

    def tmux(self, *argv):
        return subprocess.run(['tmux', '-L', self.socket, '-f', self.config]
                              + list(argv),
                              capture_output=True, text=True, check=True,
                              timeout=30).stdout

    def screen(self):
        """All the pane shows and has scrolled away, line by line."""
        return self.tmux('capture-pane', '-p', '-S', '-', '-t',
                         self.name).rstrip('\n').splitlines()

    def type_ctrl_c(self):
        self.tmux('send-keys', '-t', self.name, 'C-c')

    def wait_for(self, predicate, what, timeout=TIMEOUT):
        """Screens until ``predicate(screen)``; all of them, in order."""
        screens = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screens.append(self.screen())
            if predicate(screens[-1]):
                return screens
            time.sleep(0.3)
        pytest.fail('the screen never showed %s; last screen:\n%s'
                    % (what, '\n'.join(screens[-1] if screens else [])))


@pytest.fixture
def pane(tmp_path):
    if shutil.which('tmux') is None:
        pytest.fail('tmux is not installed (apt-get install tmux)')
    socket = 'watcher-migrate-test-%d' % os.getpid()
    config = tmp_path / 'tmux.conf'
    # tmux (unlike a terminal) moves a screen cleared from its top-left
    # corner into the history: the redraw would look like scrolling. Any
    # earlier drawing left in the history is then the tool's doing.
    config.write_text('set-option -g scroll-on-clear off\n'
                      'set-option -g history-limit 5000\n')
    pane = Pane(socket, 'run', str(config))
    yield pane
    # Only this test's own tmux server, by its socket name.
    subprocess.run(['tmux', '-L', socket, 'kill-server'],
                   capture_output=True, timeout=30)


def start_run(cloud, pane, tmp_path, plan):
    """``watcher-migrate run`` in the pane; returns the exit code file."""
    (tmp_path / 'plan.json').write_text(json.dumps(plan))
    (tmp_path / 'tool.conf').write_text(CONFIG)
    env = {'OS_AUTH_URL': cloud.auth_url, 'OS_USERNAME': cloud.username,
           'OS_PASSWORD': cloud.password,
           'OS_PROJECT_NAME': cloud.project_name,
           'OS_USER_DOMAIN_NAME': cloud.user_domain_name,
           'OS_PROJECT_DOMAIN_NAME': cloud.project_domain_name,
           'OS_REGION_NAME': cloud.region_name,
           'PYTHONPATH': TOP}
    exit_file = tmp_path / 'exit-code'
    script = tmp_path / 'run.sh'
    script.write_text('\n'.join(
        ['cd %s' % shlex.quote(str(tmp_path))]
        + ['export %s=%s' % (k, shlex.quote(v)) for k, v in env.items()]
        # A trap, not an ignore: the tool must get Ctrl-C as usual, and
        # the shell must live on to write its exit code.
        + ["trap 'true' INT",
           '%s -m watcher_migrate.cli run plan.json --config-file tool.conf'
           % shlex.quote(sys.executable),
           'echo $? > %s' % shlex.quote(str(exit_file)),
           'sleep 600', '']))
    pane.tmux('new-session', '-d', '-s', pane.name, '-x', '160', '-y', '50',
              'bash %s' % shlex.quote(str(script)))
    return exit_file


def lines_of(screen, label):
    return [line for line in screen if line.strip().startswith(label + ' ')]


def test_ctrl_c_during_a_run_aborts_as_the_screen_says(
        cloud, pane, tmp_path):
    web = cloud.create_server('host1', name='tty-web')
    batch = cloud.create_server('host1', name='tty-batch')
    cloud.set_driver(instance=web, live_duration=60)
    cloud.set_driver(instance=batch, cold_duration=15)
    exit_file = start_run(cloud, pane, tmp_path, [
        {'uuid': 'a', 'action_type': 'nova_migrate',
         'input_parameters': {'resource_id': web, 'resource_name': 'tty-web',
                              'migration_type': 'live',
                              'source_node': 'host1',
                              'destination_node': 'host2'}},
        {'uuid': 'b', 'action_type': 'nova_migrate',
         'input_parameters': {'resource_id': batch,
                              'resource_name': 'tty-batch',
                              'migration_type': 'cold',
                              'source_node': 'host1',
                              'destination_node': 'host3'}}])

    def copying_and_moving(screen):
        live, cold = lines_of(screen, '#1 (a)'), lines_of(screen, '#2 (b)')
        return (live and 's left' in live[-1] and cold and
                'migrat' in cold[-1])

    before = pane.wait_for(copying_and_moving,
                           'the live copy with its time left and the cold '
                           'move under way')
    later = pane.wait_for(
        lambda screen: lines_of(screen, '#1 (a)') != lines_of(before[-1],
                                                              '#1 (a)'),
        'the live line change')[-1]
    for screen in (before[-1], later):
        # Redrawn in place: one line per action and one footer, never a
        # copy of an earlier drawing, on screen or scrolled away.
        drawn = (len(lines_of(screen, '#1 (a)')),
                 len(lines_of(screen, '#2 (b)')),
                 screen.count('  ' + FOOTER))
        assert drawn == (1, 1, 1), '\n'.join(screen)

    pane.type_ctrl_c()
    after = pane.wait_for(lambda screen: exit_file.exists(),
                          'the tool exit', timeout=TIMEOUT)
    final = after[-1]
    assert exit_file.read_text().strip() == '130', '\n'.join(final)
    assert any('Interrupted: aborting 2 running actions and waiting for '
               'Nova to settle; no new action starts' in line
               for line in final), '\n'.join(final)
    # Before the cold move could be reverted, the screen said why it
    # waited.
    assert any('tty-batch cold host1 -> host3: aborting: waiting for '
               'VERIFY_RESIZE to revert' in line
               for screen in after for line in screen), '\n'.join(final)
    summary = [line.split() for line in final
               if line.startswith(('#1 (a) ', '#2 (b) '))]
    assert [(row[0], row[6]) for row in summary] == [
        ('#1', 'aborted'), ('#2', 'aborted')], '\n'.join(final)
    assert [cloud.server(s)['OS-EXT-SRV-ATTR:host']
            for s in (web, batch)] == ['host1', 'host1']
