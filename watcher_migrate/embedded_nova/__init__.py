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

"""The real OpenStack Nova on loopback, for functional tests and demos.

:class:`EmbeddedNova` (stdlib only) starts ``python -m
watcher_migrate.embedded_nova`` in a child process: the real Nova API,
conductor, scheduler, Placement and one nova-compute per host with a
scriptable fake virt driver, served over HTTP on 127.0.0.1 with a minimal
Keystone in front of it.
"""

from watcher_migrate.embedded_nova.client import EmbeddedNova

__all__ = ['EmbeddedNova']
