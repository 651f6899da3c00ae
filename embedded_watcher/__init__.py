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

"""Watcher's real applier and decision engine next to the embedded Nova.

Shared by tests/watcher and the benchmark (bench/), which both play
Watcher's API around real Watcher processes:

- ``deployment``: watcher.conf, Watcher's database and its objects, and
  applier runs in child processes (``applier_main.py``).
- ``applier_main``: ``watcher-applier`` started for a few action plans.
- ``audits``: Watcher's decision engine on a database of its own, run as
  a child process (``decision_engine_main.py``) for a stock audit.

Like ``embedded_nova``, a package of this repository, not of the plugin's
wheel; it needs python-watcher (the tox envs ``watcher*`` and ``bench``).
"""
