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

"""The input parameter schema: what is accepted, what is refused, and how
the refusal names the parameter."""

import pytest

from watcher_migrate import exceptions
from watcher_migrate import parameters

UUID = '0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3'


def params(**changes):
    base = {'resource_id': UUID, 'migration_type': 'live',
            'source_node': 'compute-1', 'destination_node': 'compute-2'}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()

GOOD = [
    ('live with destination', params(), 'compute-2'),
    ('cold', params(migration_type='cold'), 'compute-2'),
    ('destination absent', params(destination_node=_DROP), None),
    ('destination null', params(destination_node=None), None),
    ('with resource_name', params(resource_name='web-1'), 'compute-2'),
    ('resource_name null', params(resource_name=None), 'compute-2'),
    ('non-ASCII resource_name', params(resource_name='sérveur'), 'compute-2'),
    ('FQDN hosts', params(source_node='cmp1.dc.example.org',
                          destination_node='cmp2.dc.example.org'),
     'cmp2.dc.example.org'),
    ('underscore host', params(destination_node='compute_2'), 'compute_2'),
    ('upper-case UUID', params(resource_id=UUID.upper()), 'compute-2'),
]

BAD = [
    ('not a mapping', ['x'], None, 'expected a mapping'),
    ('missing resource_id', params(resource_id=_DROP), 'resource_id',
     'required parameter is missing'),
    ('missing migration_type', params(migration_type=_DROP),
     'migration_type', 'required parameter is missing'),
    ('missing source_node', params(source_node=_DROP), 'source_node',
     'required parameter is missing'),
    ('unknown key', params(flavor='m1.small'), 'flavor',
     'unknown parameter'),
    ('non-UUID resource_id', params(resource_id='web-1'), 'resource_id',
     'must be a server UUID'),
    ('UUID without dashes', params(resource_id=UUID.replace('-', '')),
     'resource_id', 'must be a server UUID'),
    ('integer resource_id', params(resource_id=42), 'resource_id',
     'must be a string'),
    ('unknown migration_type', params(migration_type='hot'),
     'migration_type', "must be one of live or cold, got 'hot'"),
    ('migration_type in capitals', params(migration_type='LIVE'),
     'migration_type', 'must be one of live or cold'),
    ('empty source_node', params(source_node=''), 'source_node',
     'must not be empty'),
    ('whitespace source_node', params(source_node='  '), 'source_node',
     'must not start or end with white space'),
    ('padded destination_node', params(destination_node=' compute-2'),
     'destination_node', 'must not start or end with white space'),
    ('null source_node', params(source_node=None), 'source_node',
     'must be a string, got NoneType'),
    ('boolean destination_node', params(destination_node=True),
     'destination_node', 'must be a string, got bool'),
    ('list destination_node', params(destination_node=['compute-2']),
     'destination_node', 'must be a string, got list'),
    ('space inside host', params(destination_node='compute 2'),
     'destination_node', 'must be a host name'),
    ('non-ASCII host', params(destination_node='compüte-2'),
     'destination_node', 'must be an ASCII host name'),
    ('over-long host', params(destination_node='c' * 256),
     'destination_node', 'must be at most 255 characters long, got 256'),
    ('empty resource_name', params(resource_name=''), 'resource_name',
     'must not be empty'),
    ('equal source and destination', params(destination_node='compute-1'),
     'destination_node', "must differ from 'source_node'"),
    ('equal ignoring case', params(destination_node='COMPUTE-1'),
     'destination_node', "must differ from 'source_node'"),
]


@pytest.mark.parametrize('parameters_, destination',
                         [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_valid_parameters_are_accepted(parameters_, destination):
    request = parameters.parse(parameters_)
    assert request.server_id == UUID
    assert request.destination_node == destination


@pytest.mark.parametrize('parameters_, name, what',
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_invalid_parameters_are_refused_naming_the_parameter(
        parameters_, name, what):
    with pytest.raises(exceptions.InvalidParameters) as error:
        parameters.parse(parameters_)
    message = str(error.value)
    assert what in message
    if name is not None:
        assert repr(name) in message


def test_every_problem_is_reported_at_once():
    with pytest.raises(exceptions.InvalidParameters) as error:
        parameters.parse({'resource_id': 'x', 'migration_type': 'hot',
                          'source_node': ''})
    message = str(error.value)
    for name in ('resource_id', 'migration_type', 'source_node'):
        assert repr(name) in message


def test_uuid_is_normalised_to_lower_case():
    request = parameters.parse(params(resource_id=UUID.upper()))
    assert request.server_id == UUID


def test_absent_destination_means_the_scheduler_chooses():
    request = parameters.parse(params(destination_node=_DROP))
    assert request.destination_label == 'a host chosen by the scheduler'


def test_label_names_the_server_by_uuid_and_name():
    request = parameters.parse(params(resource_name='web-1'))
    assert request.label == '%s (web-1)' % UUID
