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

"""Compute nodes named by UUID, turned into the hosts a move needs.

Several of Watcher's stock strategies name the source or destination by
the compute node's (hypervisor's) UUID rather than its host:
host_maintenance up to 15.x, noisy_neighbor and outlet_temperature in
every release. Nova moves servers between hosts, and Watcher's built-in
action compares such a UUID with the server's host, so it skips or fails
those moves. Here each UUID is read once from Nova and replaced by the
service host, keeping the UUID for messages.
"""

import dataclasses

from watcher_migrate import exceptions
from watcher_migrate import parameters


def resolve(gateway, request):
    """The request with compute node UUIDs replaced by their hosts.

    :param gateway: the ``NovaGateway`` to read the nodes with
    :param request: a ``parameters.MigrationRequest``
    :returns: the request unchanged if it names hosts only
    :raises InvalidParameters: naming the parameter, if Nova knows no
        such node or both nodes are on one host
    """
    if not request.names_nodes_by_uuid:
        return request
    changes = {}
    for name, field in ((parameters.SOURCE_NODE, 'source_node'),
                        (parameters.DESTINATION_NODE, 'destination_node')):
        node = getattr(request, field)
        if not parameters.is_uuid(node):
            continue
        node = node.lower()
        host = gateway.get_hypervisor_host(node)
        if host is None:
            raise exceptions.InvalidParameters(
                'Invalid input parameters: %r: Nova has no compute node '
                '(hypervisor) with UUID %s' % (name, node))
        changes[field] = host
        changes[field + '_id'] = node
    resolved = dataclasses.replace(request, **changes)
    if resolved.destination_node is not None and \
            resolved.destination_node.lower() == \
            resolved.source_node.lower():
        raise exceptions.InvalidParameters(
            'Invalid input parameters: %r: must differ from %r: %s and %s '
            'are both on host %s'
            % (parameters.DESTINATION_NODE, parameters.SOURCE_NODE,
               resolved.destination_label, resolved.source_label,
               resolved.source_node))
    return resolved
