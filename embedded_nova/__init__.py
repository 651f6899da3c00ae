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

"""The real OpenStack Nova on loopback, for the tests, demo and benchmark.

:class:`EmbeddedNova` (stdlib only) starts ``python -m embedded_nova`` in
a child process: the real Nova API, conductor, scheduler, Placement and
one nova-compute per host with a scriptable fake virt driver, served over
HTTP on 127.0.0.1 with a minimal Keystone in front of it.

It imports ``nova.tests``, so it is a package of this repository and not
of the plugin's wheel (setup.cfg ships ``watcher_migrate`` only); its
requirements are embedded-nova-requirements.txt. It is imported from the
repository's top directory, as ``tests`` and ``bench`` are.
"""

from embedded_nova.client import EmbeddedNova

__all__ = ['EmbeddedNova']
