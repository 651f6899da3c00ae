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

"""watcher-migrate: a Watcher applier action that migrates a server.

Layout:

- ``action``: the ``Migrate`` action the Watcher applier runs
  (entry point ``nova_migrate`` in ``watcher_actions``).
- ``action_base``: the BaseAction-compatible interface, usable without
  Watcher installed.
- ``exceptions``: Watcher's exception classes when Watcher is importable,
  local equivalents otherwise.
- ``parameters``: the voluptuous schema of the action's input parameters.
- ``options``: the oslo.config options of ``[watcher_actions.nova_migrate]``.
- ``nova_gateway``: every call to the Nova API, microversion negotiation and
  retries of transient errors.
- ``waiting``: the one waiting primitive (deadline, backoff, cancel).
- ``tracking``: following one migration in Nova to a final answer.

The embedded real Nova (``embedded_nova``) and the Watcher deployment
around it (``embedded_watcher``) used by the tests, demo and benchmark
are packages of the repository, outside this one: they are not shipped.
"""
