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

"""Malformed input parameters: a clear error, and Nova never written to.

Each case starts from valid parameters for a real server that could move
(so a case that slipped through validation would really migrate it) and
breaks one thing. Every phase Watcher runs (validate_parameters,
pre_condition, execute, then post_condition) must refuse it with
InvalidParameters naming the parameter, and the embedded Nova must count
no write request.
"""

import pytest

from tests.faults import harness
from watcher_migrate import action
from watcher_migrate import exceptions

UUID = '7c2b5a3e-1d4f-4e8a-9b6c-0a1b2c3d4e5f'
MISSING = object()

RID = "'resource_id'"
TYPE = "'migration_type'"
SRC = "'source_node'"
DST = "'destination_node'"
NAME = "'resource_name'"


def change(**changes):
    """Valid parameters with ``changes`` (MISSING deletes a key)."""
    def build(server, source, destination):
        params = {'resource_id': server, 'migration_type': 'live',
                  'source_node': source, 'destination_node': destination,
                  'resource_name': 'web-1'}
        for key, value in changes.items():
            if value is MISSING:
                params.pop(key, None)
            else:
                params[key] = value
        return params
    return build


def same_host(case_of_source):
    """Destination equal to the source (in some spelling)."""
    def build(server, source, destination):
        return {'resource_id': server, 'migration_type': 'live',
                'source_node': source,
                'destination_node': case_of_source(source)}
    return build


def with_key(key, value):
    """Valid parameters plus one more key (of any type)."""
    def build(server, source, destination):
        params = change()(server, source, destination)
        params[key] = value
        return params
    return build


def raw(value):
    """Input that is not a mapping at all."""
    def build(server, source, destination):
        return value
    return build


CASES = [
    # missing keys
    ('missing-resource-id', change(resource_id=MISSING), [RID, 'missing']),
    ('missing-migration-type', change(migration_type=MISSING),
     [TYPE, 'missing']),
    ('missing-source-node', change(source_node=MISSING), [SRC, 'missing']),
    ('empty-mapping', raw({}), [RID, TYPE, SRC]),
    # extra keys
    ('extra-key', change(unexpected='x'), ["'unexpected'", 'unknown']),
    ('extra-destination-alias', change(destination='host2'),
     ["'destination'", 'unknown']),
    ('extra-flavor', change(flavor='m1.tiny'), ["'flavor'", 'unknown']),
    ('extra-non-string-key', with_key(1, 'x'), ['1: unknown']),
    # wrong types
    ('resource-id-int', change(resource_id=42), [RID, 'string']),
    ('resource-id-list', change(resource_id=[UUID]), [RID, 'string']),
    ('resource-id-dict', change(resource_id={'id': UUID}), [RID, 'string']),
    ('resource-id-bytes', change(resource_id=UUID.encode()),
     [RID, 'string']),
    ('migration-type-int', change(migration_type=1), [TYPE]),
    ('migration-type-bool', change(migration_type=True), [TYPE]),
    ('migration-type-list', change(migration_type=['live']), [TYPE]),
    ('source-node-int', change(source_node=1), [SRC, 'string']),
    ('source-node-list', change(source_node=['host1']), [SRC, 'string']),
    ('destination-node-int', change(destination_node=2), [DST, 'string']),
    ('destination-node-false', change(destination_node=False),
     [DST, 'string']),
    ('destination-node-dict', change(destination_node={'host': 'host2'}),
     [DST, 'string']),
    ('resource-name-int', change(resource_name=7), [NAME, 'string']),
    ('resource-name-true', change(resource_name=True), [NAME, 'string']),
    # empty and white space
    ('resource-id-empty', change(resource_id=''), [RID, 'empty']),
    ('resource-id-blank', change(resource_id='   '), [RID, 'white space']),
    ('resource-id-padded', change(resource_id=' %s ' % UUID),
     [RID, 'white space']),
    ('migration-type-empty', change(migration_type=''), [TYPE]),
    ('migration-type-padded', change(migration_type=' live'), [TYPE]),
    ('source-node-empty', change(source_node=''), [SRC, 'empty']),
    ('source-node-tab', change(source_node='\t'), [SRC, 'white space']),
    ('source-node-trailing-newline', change(source_node='host1\n'),
     [SRC, 'white space']),
    ('destination-node-empty', change(destination_node=''), [DST, 'empty']),
    ('destination-node-blank', change(destination_node='  '),
     [DST, 'white space']),
    ('resource-name-empty', change(resource_name=''), [NAME, 'empty']),
    ('resource-name-blank', change(resource_name=' '), [NAME, 'white space']),
    # not UUIDs
    ('resource-id-word', change(resource_id='not-a-uuid'), [RID, 'UUID']),
    ('resource-id-no-dashes', change(resource_id=UUID.replace('-', '')),
     [RID, 'UUID']),
    ('resource-id-braces', change(resource_id='{%s}' % UUID), [RID, 'UUID']),
    ('resource-id-urn', change(resource_id='urn:uuid:%s' % UUID),
     [RID, 'UUID']),
    ('resource-id-short', change(resource_id=UUID[:-1]), [RID, 'UUID']),
    ('resource-id-not-hex', change(resource_id='g' + UUID[1:]),
     [RID, 'UUID']),
    ('resource-id-server-name', change(resource_id='web-1'), [RID, 'UUID']),
    # unknown migration types
    ('migration-type-warm', change(migration_type='warm'), [TYPE, 'warm']),
    ('migration-type-upper', change(migration_type='LIVE'), [TYPE, 'LIVE']),
    ('migration-type-evacuate', change(migration_type='evacuate'),
     [TYPE, 'evacuate']),
    ('migration-type-resize', change(migration_type='resize'),
     [TYPE, 'resize']),
    # equal source and destination
    ('destination-is-source', same_host(str), [DST, SRC, 'differ']),
    ('destination-is-source-upper-case', same_host(str.upper),
     [DST, SRC, 'differ']),
    # over-long and non-ASCII host names, invalid characters
    ('source-node-256-chars', change(source_node='h' * 256),
     [SRC, 'at most 255']),
    ('destination-node-300-chars', change(destination_node='d' * 300),
     [DST, 'at most 255']),
    ('resource-name-256-chars', change(resource_name='n' * 256),
     [NAME, 'at most 255']),
    ('source-node-accented', change(source_node='h\u00f4st1'),
     [SRC, 'ASCII']),
    ('destination-node-cyrillic', change(destination_node='\u0445\u043e'
                                                          '\u0441\u0442'),
     [DST, 'ASCII']),
    ('destination-node-zero-width-space',
     change(destination_node='host2\u200b'), [DST, 'ASCII']),
    ('source-node-full-width-digit', change(source_node='host\uff11'),
     [SRC, 'ASCII']),
    ('source-node-inner-space', change(source_node='host 1'),
     [SRC, 'host name']),
    ('destination-node-slash', change(destination_node='host2/../x'),
     [DST, 'host name']),
    ('destination-node-shell', change(destination_node='host2;reboot'),
     [DST, 'host name']),
    ('source-node-leading-dash', change(source_node='-host1'),
     [SRC, 'host name']),
    # None where it is not allowed
    ('resource-id-none', change(resource_id=None), [RID]),
    ('migration-type-none', change(migration_type=None), [TYPE]),
    ('source-node-none', change(source_node=None), [SRC]),
    # not a mapping
    ('none', raw(None), ['expected a mapping', 'NoneType']),
    ('list', raw([]), ['expected a mapping', 'list']),
    ('list-of-pairs', raw([('resource_id', UUID)]),
     ['expected a mapping', 'list']),
    ('string', raw('resource_id=%s' % UUID), ['expected a mapping', 'str']),
    ('number', raw(42), ['expected a mapping', 'int']),
]


def test_the_table_has_at_least_forty_distinct_cases():
    names = [name for name, _build, _words in CASES]
    assert len(set(names)) == len(names) >= 40


@pytest.fixture(scope='module')
def movable(server_pool):
    """A real server that valid parameters would migrate."""
    # No background boot may write to Nova while writes are counted.
    server_pool.settle()
    server = server_pool.take()
    yield server
    server_pool.give_back(server)


@pytest.mark.parametrize('build,words', [
    pytest.param(build, words, id=name) for name, build, words in CASES])
def test_malformed_parameters_are_refused_before_any_write(cloud, movable,
                                                           build, words):
    log = harness.nova_requests(cloud)
    start = log.refresh()
    migrate = action.Migrate(harness.config(cloud))
    migrate.input_parameters = build(movable.id, movable.host,
                                     harness.other_host(movable.host))
    for phase in (migrate.validate_parameters, migrate.pre_condition,
                  migrate.execute):
        with pytest.raises(exceptions.InvalidParameters) as error:
            phase()
        message = str(error.value)
        assert message.startswith('Invalid input parameters: ')
        for word in words:
            assert word in message, '%r not in %r' % (word, message)
    migrate.post_condition()
    writes = [r for r in log.since(start) if r['method'] not in ('GET',
                                                                 'HEAD')]
    assert writes == []
