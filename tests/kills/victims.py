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

"""The processes the kill runs kill, and those that restart after them.

Two victims, each a child process in a process group of its own, so that
one ``SIGKILL`` of the group takes it whole, as ``kill -9`` of a service's
cgroup or the OOM killer would:

- the command-line tool: ``watcher-migrate run PLAN --config-file CONF``
  with the cloud's credentials in OS_* variables (as
  tests/functional/test_cli.py runs it);
- Watcher's own applier (embedded_watcher/applier_main.py, the
  ``watcher-applier`` of the installed python-watcher) launching one
  action plan.

Their restarts: ``watcher-migrate recover --config-file CONF`` (the same
journal_path), or a new applier process with a fresh small plan, whose
first action recovers what the dead one left.
"""

import json
import os
import signal
import subprocess
import sys
import time

from tests import embedded_cloud

CLI = 'cli'
APPLIER = 'applier'
VICTIMS = (CLI, APPLIER)

# Seconds a restart (recover, or a new applier's plan) may take: it may
# follow a live migration to its end and wait for Nova to settle.
RESTART_TIMEOUT = 600


class Victim(object):
    """A child process in its own process group, and where it logs."""

    def __init__(self, name, process, log_file):
        self.name = name
        self.process = process
        self.log_file = log_file

    @property
    def alive(self):
        return self.process.poll() is None

    def kill(self):
        """SIGKILL the whole process group; wait until it is reaped."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(60)

    def log(self):
        return read(self.log_file)


def read(path):
    if not os.path.exists(path):
        return ''
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8', 'replace')


def plugin_options(directory, live_timeout):
    """[watcher_actions.nova_migrate] of a victim and of its restart.

    Polls the one-process Nova gently; the journal of moves in flight in
    the iteration's own directory (an option older code ignores). No
    stall watch: a copy drawn to outlast its deadline would be judged too
    slow from its first figures and aborted before the kill; the kill
    runs are about the deadline the recovery inherits.
    """
    return {'poll_interval_min': 0.5, 'poll_interval_max': 2.0,
            'settle_timeout': 120, 'live_timeout': int(live_timeout),
            'cold_timeout': 600, 'live_migration_stall_window': 0,
            'journal_path': os.path.join(str(directory), 'journal.sqlite')}


# -- the command-line tool ----------------------------------------------------

def cli_config(directory, live_timeout):
    """The CLI's config file: the plugin options, nothing else."""
    path = os.path.join(str(directory), 'watcher-migrate.conf')
    with open(path, 'w') as handle:
        handle.write('[watcher_actions.nova_migrate]\n')
        for item in sorted(plugin_options(directory,
                                          live_timeout).items()):
            handle.write('%s = %s\n' % item)
    return path


def _cli(cloud, argv, log_file):
    with open(log_file, 'ab') as log:
        return subprocess.Popen(
            [sys.executable, '-m', 'watcher_migrate.cli'] + list(argv),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=embedded_cloud.cli_env(cloud), cwd=os.path.dirname(log_file),
            start_new_session=True)


def start_cli(cloud, directory, move, config):
    """``watcher-migrate run`` of a one-action plan moving ``move``."""
    plan = os.path.join(str(directory), 'plan.json')
    with open(plan, 'w') as handle:
        json.dump({'actions': [{
            'action_type': 'nova_migrate', 'uuid': 'killed-action',
            'input_parameters': move.input_parameters()}]}, handle)
    log_file = os.path.join(str(directory), 'cli-run.log')
    return Victim(CLI, _cli(cloud, ['run', plan, '--config-file', config,
                                    '--verbose'], log_file), log_file)


def recover_cli(cloud, directory, config):
    """Run ``watcher-migrate recover`` to its end: (exit code, output)."""
    log_file = os.path.join(str(directory), 'cli-recover.log')
    process = _cli(cloud, ['recover', '--config-file', config, '--verbose'],
                   log_file)
    try:
        code = process.wait(RESTART_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(60)
        code = 'killed after %d s' % RESTART_TIMEOUT
    return code, read(log_file)


# -- Watcher's applier --------------------------------------------------------

def applier_config(watcher, directory, live_timeout):
    """A watcher.conf of the deployment with the victims' plugin options."""
    return watcher.write_conf(
        os.path.join(str(directory), 'watcher.conf'),
        plugin_options=plugin_options(directory, live_timeout))


def _applier(watcher, directory, name, config, plan, timeout):
    # Only here: the CLI victim and the harness's own tests run where
    # python-watcher is not installed.
    from embedded_watcher import deployment
    log_file = os.path.join(str(directory), name + '.log')
    command = [watcher.python, deployment.APPLIER_MAIN,
               '--config-file', config, '--log-file', log_file,
               '--result-file', os.path.join(str(directory), name + '.json'),
               '--timeout', str(timeout), '--action-plan', plan.uuid]
    env = dict(os.environ)
    env[deployment.PATCHING_VARIABLE] = deployment.MODES[
        deployment.DEFAULT_MODE]
    with open(os.path.join(str(directory), name + '.out'), 'wb') as output:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Victim(APPLIER, process, log_file)


def start_applier(watcher, directory, move, config):
    """A ``watcher-applier`` launching a one-action plan moving ``move``.

    :returns: the Victim and the plan (embedded_watcher.deployment.Plan)
    """
    plan = watcher.create_plan([move.step()])
    return _applier(watcher, directory, 'applier-killed', config, plan,
                    RESTART_TIMEOUT), plan


def restart_applier(watcher, directory, config, step):
    """A new applier running a fresh one-action plan to its end.

    Its first action is the first of its process: it recovers, before
    its own move, what the journal holds of dead processes.

    :returns: (exit code, the applier's log, the fresh plan)
    """
    plan = watcher.create_plan([step])
    victim = _applier(watcher, directory, 'applier-restarted', config, plan,
                      RESTART_TIMEOUT - 60)
    try:
        code = victim.process.wait(RESTART_TIMEOUT)
    except subprocess.TimeoutExpired:
        victim.kill()
        code = 'killed after %d s' % RESTART_TIMEOUT
    return code, victim.log(), plan


def wait_for_exit(victim, timeout):
    """Whether the victim exited within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while victim.alive and time.monotonic() < deadline:
        time.sleep(0.2)
    return not victim.alive
