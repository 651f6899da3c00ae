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

"""The embedded real Nova as the test suites that need one start it.

``WATCHER_MIGRATE_NOVA_PYTHON`` names the python that runs Nova (a venv
with nova installed); default: the python running pytest. A run without
nova fails: it does not skip, a run without the real Nova proves nothing.
"""

import contextlib
import os
import subprocess
import sys

import pytest

from embedded_nova import client as embedded_client

HOSTS = ('host1', 'host2', 'host3', 'host4')
# The repository, which a child watcher-migrate imports the code from.
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON_VARIABLE = 'WATCHER_MIGRATE_NOVA_PYTHON'


def nova_python():
    """The python that runs the embedded Nova."""
    return os.environ.get(PYTHON_VARIABLE) or sys.executable


def has_nova(python):
    """Whether ``python`` can import nova."""
    check = ('import importlib.util, sys; '
             'sys.exit(importlib.util.find_spec("nova") is None)')
    try:
        return subprocess.run([python, '-c', check],
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@contextlib.contextmanager
def running_nova(log_dir, hosts=HOSTS, tox_env='functional',
                 notification_url=None):
    """Start :class:`EmbeddedNova` with ``hosts``; stop it on the way out.

    :param log_dir: a directory (pathlib.Path) for Nova's log, nova.log
    :param tox_env: the tox env that has nova, named in the failure
    :param notification_url: the broker Nova publishes its versioned
        notifications to (the ``broker`` fixture's url); None: none
    """
    python = nova_python()
    if not has_nova(python):
        pytest.fail('nova is not importable by %s; run through tox -e %s '
                    'or set %s' % (python, tox_env, PYTHON_VARIABLE))
    nova = embedded_client.EmbeddedNova(hosts=hosts, python=python,
                                        log_file=str(log_dir / 'nova.log'),
                                        notification_url=notification_url)
    nova.start()
    show_on_failure('embedded Nova log: %s' % nova.log_file)
    try:
        yield nova
    finally:
        nova.stop()


# What a failed run should point at (tests/conftest.py prints it).
FAILURE_HINTS = []


def show_on_failure(line):
    """Print ``line`` at the end of a run in which a test failed."""
    FAILURE_HINTS.append(line)


def cli_env(cloud):
    """The environment of an operator's shell with the cloud's OS_* set."""
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
    return env
