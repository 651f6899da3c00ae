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

"""The input parameters of the action: schema, validation, typed result.

The names are those of Watcher's built-in ``migrate`` action, so a plan can
switch ``action_type`` without touching its parameters. The schema is
stricter than the built-in's: an invalid action must fail before any call to
Nova, with a message naming the parameter and what is wrong with it.
"""

import dataclasses
import re

import voluptuous as vol

from watcher_migrate import exceptions

RESOURCE_ID = 'resource_id'
MIGRATION_TYPE = 'migration_type'
SOURCE_NODE = 'source_node'
DESTINATION_NODE = 'destination_node'
RESOURCE_NAME = 'resource_name'

LIVE = 'live'
COLD = 'cold'
MIGRATION_TYPES = (LIVE, COLD)

# Nova keeps service hosts in a String(255) column.
MAX_HOST_LENGTH = 255
MAX_NAME_LENGTH = 255

_UUID_RE = re.compile(
    r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
    r'[0-9a-fA-F]{12}$')
# Compute hosts are host names or FQDNs; '_' appears in real deployments.
_HOST_RE = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$')


def _string(value):
    if not isinstance(value, str):
        raise vol.Invalid('must be a string, got %s' % type(value).__name__)
    if not value:
        raise vol.Invalid('must not be empty')
    if value != value.strip():
        raise vol.Invalid('must not start or end with white space')
    return value


def is_uuid(value):
    """Whether ``value`` is a UUID in its 8-4-4-4-12 hexadecimal form."""
    return isinstance(value, str) and bool(_UUID_RE.match(value))


def server_uuid(value):
    """A server UUID in its canonical 8-4-4-4-12 hexadecimal form."""
    _string(value)
    if not _UUID_RE.match(value):
        raise vol.Invalid('must be a server UUID, got %r' % value)
    return value.lower()


def host_name(value):
    """A nova-compute host name: ASCII letters, digits, '.', '-', '_'.

    A compute node (hypervisor) UUID, as some stock strategies give, has
    that shape too; the action resolves it to its host before using it.
    """
    _string(value)
    if len(value) > MAX_HOST_LENGTH:
        raise vol.Invalid('must be at most %d characters long, got %d'
                          % (MAX_HOST_LENGTH, len(value)))
    if not value.isascii():
        raise vol.Invalid('must be an ASCII host name, got %r' % value)
    if not _HOST_RE.match(value):
        raise vol.Invalid('must be a host name (letters, digits, ".", "-", '
                          '"_"), got %r' % value)
    return value


def resource_name(value):
    """A display name: any non-empty text of reasonable length."""
    _string(value)
    if len(value) > MAX_NAME_LENGTH:
        raise vol.Invalid('must be at most %d characters long'
                          % MAX_NAME_LENGTH)
    return value


def nullable(validator):
    """Accept None, else apply validator.

    Unlike voluptuous' Any, this keeps the validator's own message.
    """
    def validate(value):
        return None if value is None else validator(value)
    return validate


def migration_type(value):
    if value not in MIGRATION_TYPES:
        raise vol.Invalid('must be one of %s, got %r'
                          % (' or '.join(MIGRATION_TYPES), value))
    return value


SCHEMA = vol.Schema({
    vol.Required(RESOURCE_ID): server_uuid,
    vol.Required(MIGRATION_TYPE): migration_type,
    vol.Required(SOURCE_NODE): host_name,
    # Absent or null: the Nova scheduler picks the destination.
    vol.Optional(DESTINATION_NODE, default=None): nullable(host_name),
    vol.Optional(RESOURCE_NAME, default=None): nullable(resource_name),
}, extra=vol.PREVENT_EXTRA, required=False)


@dataclasses.dataclass(frozen=True)
class MigrationRequest:
    """Validated, typed input parameters of one migration."""

    server_id: str
    migration_type: str
    source_node: str
    destination_node: str = None
    server_name: str = None
    #: The compute node UUIDs the plan named the hosts by, if it did.
    source_node_id: str = None
    destination_node_id: str = None

    @property
    def live(self):
        return self.migration_type == LIVE

    @property
    def label(self):
        """How messages name the server: its UUID and, if known, name."""
        if self.server_name:
            return '%s (%s)' % (self.server_id, self.server_name)
        return self.server_id

    @property
    def source_label(self):
        """How messages name the source: the host, and the node if given."""
        return _node_label(self.source_node, self.source_node_id)

    @property
    def destination_label(self):
        if not self.destination_node:
            return 'a host chosen by the scheduler'
        return _node_label(self.destination_node, self.destination_node_id)

    @property
    def names_nodes_by_uuid(self):
        """Whether a node is still given by its compute node UUID.

        Resolved nodes are host names, which are never UUID-shaped.
        """
        return is_uuid(self.source_node) or is_uuid(self.destination_node)


def _node_label(host, node_id):
    if node_id and node_id != host:
        return '%s (compute node %s)' % (host, node_id)
    return host


def _describe(error):
    """Name the parameter an error is about and say what is wrong."""
    if error.path:
        name = error.path[0]
        if error.error_message == 'extra keys not allowed':
            return '%r: unknown parameter' % (name,)
        if error.error_message == 'required key not provided':
            return '%r: required parameter is missing' % (name,)
        return '%r: %s' % (name, error.error_message)
    return error.error_message


def parse(parameters):
    """Validate raw input parameters and return a MigrationRequest.

    :raises exceptions.InvalidParameters: naming every invalid parameter.
    """
    if not isinstance(parameters, dict):
        raise exceptions.InvalidParameters(
            'Invalid input parameters: expected a mapping, got %s'
            % type(parameters).__name__)
    try:
        valid = SCHEMA(parameters)
    except vol.MultipleInvalid as e:
        problems = sorted(set(_describe(err) for err in e.errors))
        raise exceptions.InvalidParameters(
            'Invalid input parameters: %s' % '; '.join(problems))
    destination = valid[DESTINATION_NODE]
    if (destination is not None
            and destination.lower() == valid[SOURCE_NODE].lower()):
        raise exceptions.InvalidParameters(
            'Invalid input parameters: %r: must differ from %r (both are %r)'
            % (DESTINATION_NODE, SOURCE_NODE, destination))
    return MigrationRequest(
        server_id=valid[RESOURCE_ID],
        migration_type=valid[MIGRATION_TYPE],
        source_node=valid[SOURCE_NODE],
        destination_node=destination,
        server_name=valid[RESOURCE_NAME])
