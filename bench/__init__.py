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

"""Benchmark of nova_migrate against Watcher's built-in migrate action.

``tools/tox -e bench`` (or ``python -m bench`` in a virtualenv with
python-watcher 17.0.0, nova 34 and this package) runs the same workloads
through the real Watcher applier against the real embedded Nova with
each action type in turn and prints how soon each action noticed that
Nova was done, how many compute API requests it cost, and the wall and
CPU time of the plans; also what loading each action costs.
"""
