"""HTTPS to a pinned address: the TLS handshake names the URL's host (SNI) and the
certificate is checked against that host, not against the address connected to."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
import standardwebhooks
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .conftest import QueueFactory, fast_settings
from .support import running_receiver


def _certificate(tmp_path: Path, host: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for ``host`` it signed: (ca, cert, key) files."""
    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, issuer: str, public, signer, extensions) -> x509.Certificate:  # type: ignore[no-untyped-def]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = build(
        "test CA",
        "test CA",
        ca_key.public_key(),
        ca_key,
        [(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    leaf = build(
        host,
        "test CA",
        leaf_key.public_key(),
        ca_key,
        [
            (x509.SubjectAlternativeName([x509.DNSName(host)]), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
        ],
    )
    files = tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture
def tls(tmp_path: Path):  # type: ignore[no-untyped-def]
    ca, cert, key = _certificate(tmp_path, "hooks.example")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    names: list[str | None] = []
    server.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment,func-returns-value]
    client = ssl.create_default_context(cafile=str(ca))
    return server, client, names


def test_https_names_the_url_s_host_to_a_server_reached_by_address(
    make_queue: QueueFactory, secret: str, tls
) -> None:  # type: ignore[no-untyped-def]
    server, client, names = tls
    wrap = lambda http: setattr(http, "socket", server.wrap_socket(http.socket, server_side=True))  # noqa: E731
    with running_receiver(wrap=wrap) as receiver:
        queue = make_queue(
            settings=fast_settings(ssl_context=client),
            resolver=lambda host, port: ["127.0.0.1"],
            start=False,
        )
        good = queue.enqueue(
            "hook_1", f"https://hooks.example:{receiver.port}/in", "key.revoked", {}
        )
        wrong = queue.enqueue(
            "hook_1", f"https://other.example:{receiver.port}/in", "key.revoked", {}
        )
        assert queue.run_due() == 2
        [got] = receiver.received
    assert names[0] == "hooks.example"
    assert got.headers["host"] == f"hooks.example:{receiver.port}"
    standardwebhooks.Webhook(secret).verify(got.body, got.headers)
    delivered, refused = queue.get(good.id), queue.get(wrong.id)
    assert delivered is not None
    assert refused is not None
    assert delivered.state == "delivered"
    assert refused.attempts[0].error is not None
    assert "TLS certificate rejected: Hostname mismatch" in refused.attempts[0].error
