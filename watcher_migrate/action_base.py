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

"""The action interface the Watcher applier relies on, without Watcher.

It mirrors ``watcher.applier.actions.base.BaseAction`` (python-watcher
17.0.0) so the plugin imports, runs and is tested where Watcher is not
installed; tests/watcher compares the two so an upgrade that changes the
contract fails loudly. Unlike Watcher's, ``osc`` is never created lazily:
without Watcher there is nothing to create it from, and the action then
builds its own keystoneauth1 session from its config group.
"""

import abc


class BaseAction(metaclass=abc.ABCMeta):
    """BaseAction-compatible base class of a Watcher applier action."""

    # By Watcher's convention the action's target lives in
    # input_parameters['resource_id'].
    RESOURCE_ID = 'resource_id'

    def __init__(self, config, osc=None):
        """Keep the configuration and clients; must do no I/O.

        :param config: the option values of this action's config group
            (Watcher passes a dict-like ``Struct``)
        :param osc: Watcher's ``OpenStackClients`` or None
        """
        self.config = config
        self._input_parameters = {}
        self._osc = osc

    @property
    def osc(self):
        return self._osc

    @property
    def input_parameters(self):
        return self._input_parameters

    @input_parameters.setter
    def input_parameters(self, parameters):
        self._input_parameters = parameters

    @property
    def resource_id(self):
        return self.input_parameters[self.RESOURCE_ID]

    @classmethod
    def get_config_opts(cls):
        """The oslo.config options of this action's config group."""
        return []

    @property
    @abc.abstractmethod
    def schema(self):
        """The schema the input parameters must satisfy."""

    @abc.abstractmethod
    def validate_parameters(self):
        """Raise if the input parameters are invalid; return True if not."""

    @abc.abstractmethod
    def pre_condition(self):
        """Check, before execute, that the action can and should run."""

    @abc.abstractmethod
    def execute(self):
        """Do the work; return exactly True on success."""

    @abc.abstractmethod
    def post_condition(self):
        """Always called after execute, even when nothing ran."""

    @abc.abstractmethod
    def revert(self):
        """Undo what execute did."""

    @abc.abstractmethod
    def abort(self):
        """Stop a running execute; may be called from another thread."""

    @abc.abstractmethod
    def get_description(self):
        """One sentence for the applier's database; must do no I/O."""

    def check_abort(self):
        """Whether this action supports abort (Watcher asks by class)."""
        return True
