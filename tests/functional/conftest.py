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

"""Session-wide real Nova (embedded, on 127.0.0.1) for functional tests.

``WATCHER_MIGRATE_NOVA_PYTHON`` names the python that runs Nova (a venv
with nova installed); default: the python running pytest.
"""

import os
import subprocess
import sys

import pytest

from watcher_migrate.embedded_nova import client as embedded_client

HOSTS = ('host1', 'host2', 'host3', 'host4')

_STATE = {'cloud': None, 'failed': False}


def _has_nova(python):
    check = ('import importlib.util, sys; '
             'sys.exit(importlib.util.find_spec("nova") is None)')
    try:
        return subprocess.run([python, '-c', check],
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope='session')
def cloud(tmp_path_factory):
    """The running :class:`EmbeddedNova` with hosts host1..host4."""
    python = os.environ.get('WATCHER_MIGRATE_NOVA_PYTHON') or sys.executable
    if not _has_nova(python):
        # A functional run without the real Nova proves nothing: fail, do
        # not skip.
        pytest.fail('nova is not importable by %s; run through tox -e '
                    'functional or set WATCHER_MIGRATE_NOVA_PYTHON' % python)
    log_file = str(tmp_path_factory.mktemp('embedded-nova') / 'nova.log')
    nova = embedded_client.EmbeddedNova(hosts=HOSTS, python=python,
                                        log_file=log_file)
    nova.start()
    _STATE['cloud'] = nova
    try:
        yield nova
    finally:
        nova.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and 'cloud' in getattr(item, 'fixturenames', ()):
        _STATE['failed'] = True


def pytest_terminal_summary(terminalreporter):
    nova = _STATE['cloud']
    if _STATE['failed'] and nova is not None:
        terminalreporter.write_line('embedded Nova log: %s' % nova.log_file)
