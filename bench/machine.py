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

"""The machine a benchmark ran on, for its header and its JSON.

Numbers of a benchmark mean little without the machine: CPU count and
model, load averages (other work on the machine skews them), Python,
and the versions of Nova, Watcher and the plugin under test.
"""

import importlib.metadata
import os
import platform
import subprocess


def cpu_model():
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def version(distribution, python=None):
    """Installed version of ``distribution``, here or in ``python``."""
    if python is None:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return None
    try:
        completed = subprocess.run(
            [python, '-c', 'import importlib.metadata as m, sys; '
             'print(m.version(sys.argv[1]))', distribution],
            capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.decode().strip() or None


def describe(nova_python):
    """What to record about this machine and the software under test."""
    return {
        'cpus': os.cpu_count(),
        'cpu_model': cpu_model(),
        'loadavg_at_start': list(os.getloadavg()),
        'platform': platform.platform(),
        'python': platform.python_version(),
        'nova': version('nova', nova_python),
        'python-watcher': version('python-watcher'),
        'watcher-migrate': version('watcher-migrate'),
        'stevedore': version('stevedore'),
    }
