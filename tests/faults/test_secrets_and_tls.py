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

"""No secret in the logs; TLS verified unless ``insecure`` is set."""

import datetime
import ipaddress
import logging
import ssl
import uuid

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import NameOID
import pytest

from tests.faults import fault_proxy as fp
from tests.faults import harness
from tests.faults import invariants
from watcher_migrate import keystone_session
from watcher_migrate import options

COLD = harness.COLD


class _Everything(logging.Handler):
    """Keeps every record, formatted with its traceback and raw args."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(
            '%(name)s %(levelname)s %(message)s'))
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))


@pytest.fixture
def all_logs():
    """Every log record of every logger, DEBUG and up, as text lines."""
    root = logging.getLogger()
    handler = _Everything()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = {}
    for name in ('keystoneauth', 'novaclient', 'urllib3', 'requests',
                 'watcher_migrate', 'stevedore', 'oslo'):
        logger = logging.getLogger(name)
        quiet[name] = logger.level
        logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


def test_logs_carry_no_token_and_no_password(cloud, proxy, server, all_logs):
    # Keystone here takes any password: a unique one cannot be found in
    # the logs by chance.
    password = 'pw-%s' % uuid.uuid4().hex
    # A re-authentication (second token) and failures that get logged.
    proxy.add(
        harness.rule_at(harness.MOVE, fp.UNAUTHORIZED, server.id, COLD),
        harness.rule_at(harness.WAIT, fp.HTTP_ERROR, server.id, COLD,
                        forward=True),
        harness.rule_at(harness.CONFIRM, fp.RESET, server.id, COLD,
                        forward=True))
    run = harness.migrate_server(
        cloud, harness.config(cloud, through=proxy, password=password),
        server.id, server.host, harness.other_host(server.host), COLD)
    invariants.assert_invariants(cloud, run)
    assert run.succeeded, run.message
    tokens = proxy.tokens
    assert len(tokens) == 2
    text = '\n'.join(all_logs)
    # The capture works: keystoneauth's request lines are in it.
    assert 'REQ: curl' in text and 'X-Auth-Token' in text
    assert password not in text
    for token in tokens:
        assert token not in text


def _settings(cloud, **overrides):
    return options.Settings(harness.config(cloud, **overrides))


def test_the_session_from_the_options_verifies_tls_by_default(cloud):
    session = keystone_session.session_for(None, _settings(cloud))
    assert session.verify is True


def test_insecure_turns_tls_verification_off(cloud):
    session = keystone_session.session_for(None,
                                           _settings(cloud, insecure=True))
    assert session.verify is False


def _self_signed(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         'nova.faults.test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                       critical=True)
        .sign(key, hashes.SHA256()))
    cert_file = directory / 'cert.pem'
    key_file = directory / 'key.pem'
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_proxy(cloud, tmp_path):
    """The fault proxy serving HTTPS with a self-signed certificate."""
    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    with fp.FaultProxy(harness.base_url(cloud),
                       ssl_context=context) as relay:
        relay.cert_file = cert_file
        yield relay


def _migrate_through(cloud, tls_proxy, server, **overrides):
    return harness.migrate_server(
        cloud, harness.config(cloud, through=tls_proxy, **overrides),
        server.id, server.host, harness.other_host(server.host))


def test_a_self_signed_endpoint_is_refused_by_default(cloud, tls_proxy,
                                                      server):
    run = _migrate_through(cloud, tls_proxy, server, api_retry_timeout=1)
    assert not run.succeeded
    assert 'CERTIFICATE_VERIFY_FAILED' in run.message
    # Not one request got through the TLS handshake.
    assert tls_proxy.log == []


def test_a_tls_failure_fails_the_action_with_a_reason_watcher_keeps(
        cloud, tls_proxy, server):
    run = _migrate_through(cloud, tls_proxy, server, api_retry_timeout=1)
    invariants.assert_invariants(cloud, run,
                                 cause='CERTIFICATE_VERIFY_FAILED')


def test_a_self_signed_endpoint_is_reached_with_insecure(cloud, tls_proxy,
                                                         server):
    run = _migrate_through(cloud, tls_proxy, server, insecure=True)
    invariants.assert_invariants(cloud, run)
    assert run.succeeded, run.message
    assert tls_proxy.token_requests()


def test_a_self_signed_endpoint_is_reached_with_its_ca_file(cloud, tls_proxy,
                                                            server):
    run = _migrate_through(cloud, tls_proxy, server,
                           cafile=tls_proxy.cert_file)
    invariants.assert_invariants(cloud, run)
    assert run.succeeded, run.message
