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

"""Nodes named by compute node UUID, as stock strategies name them."""

import pytest

from tests.unit import fake_nova
from tests.unit import test_action
from watcher_migrate import compute_nodes
from watcher_migrate import exceptions
from watcher_migrate import parameters

NODE = fake_nova.NODE_UUIDS
UNKNOWN_NODE = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'


def request(**given):
    raw = dict(resource_id=test_action.UUID, migration_type='live',
               source_node='compute-1', destination_node='compute-2')
    raw.update(given)
    return parameters.parse(raw)


@pytest.fixture
def nova():
    return fake_nova.FakeNova()


def test_host_names_are_kept_without_reading_nova(nova):
    assert compute_nodes.resolve(nova, request()) == request()
    assert nova.reads == 0


def test_a_source_node_uuid_becomes_its_host_and_is_kept_for_messages(nova):
    resolved = compute_nodes.resolve(
        nova, request(source_node=NODE['compute-1']))
    assert resolved.source_node == 'compute-1'
    assert resolved.source_node_id == NODE['compute-1']
    assert resolved.source_label == 'compute-1 (compute node %s)' \
        % NODE['compute-1']


def test_a_destination_node_uuid_becomes_its_host(nova):
    resolved = compute_nodes.resolve(
        nova, request(destination_node=NODE['compute-2'].upper()))
    assert resolved.destination_node == 'compute-2'
    assert resolved.destination_label == 'compute-2 (compute node %s)' \
        % NODE['compute-2']


def test_each_node_uuid_costs_one_read(nova):
    compute_nodes.resolve(nova, request(source_node=NODE['compute-1'],
                                        destination_node=NODE['compute-2']))
    assert nova.hypervisor_reads == 2


def test_an_unknown_node_uuid_is_refused_naming_the_parameter(nova):
    with pytest.raises(exceptions.InvalidParameters) as error:
        compute_nodes.resolve(nova, request(destination_node=UNKNOWN_NODE))
    assert str(error.value) == (
        "Invalid input parameters: 'destination_node': Nova has no compute "
        "node (hypervisor) with UUID %s" % UNKNOWN_NODE)


def test_a_node_uuid_on_the_source_host_is_refused_as_no_move(nova):
    with pytest.raises(exceptions.InvalidParameters,
                       match="'destination_node': must differ from "
                             "'source_node'.*both on host compute-1"):
        compute_nodes.resolve(nova, request(
            destination_node=NODE['compute-1']))
