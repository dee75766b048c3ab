"""Serving certificates for the admission webhook, made with ``cryptography``.

kopf can self-sign, but through ``certbuilder``/``oscrypto``, which cannot load
OpenSSL >= 3.0.10; so the operator makes its own: a small CA (the
``caBundle`` the API server is given) and a leaf certificate for the webhook's
host names and IPs, both ECDSA P-256.  When the directory already holds a
certificate (say, a Secret mounted by the Helm chart or cert-manager) it is
used as is.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ServingCert", "ensure_serving_cert", "generate_serving_cert"]


@dataclass(frozen=True, slots=True)
class ServingCert:
    """Paths of the PEM files the webhook server uses."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_pem(self) -> bytes:
        return self.ca_file.read_bytes()


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_serving_cert(
    directory: str | os.PathLike[str], hostnames: list[str], days: int = 365
) -> ServingCert:
    """Write ``ca.crt``, ``tls.crt`` and ``tls.key`` (0600) for ``hostnames`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authgate webhook CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(hostnames), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    paths = ServingCert(out / "ca.crt", out / "tls.crt", out / "tls.key")
    paths.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    fd = os.open(paths.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_key_pem(key))
    return paths


def ensure_serving_cert(directory: str | os.PathLike[str], hostnames: list[str]) -> ServingCert:
    """Use the certificate in ``directory`` if ``tls.crt`` and ``tls.key`` exist (a mounted
    ``kubernetes.io/tls`` Secret; ``ca.crt`` is optional, ``tls.crt`` stands in for it),
    else generate one."""
    out = Path(directory)
    cert, key, ca = out / "tls.crt", out / "tls.key", out / "ca.crt"
    if cert.is_file() and key.is_file():
        return ServingCert(ca if ca.is_file() else cert, cert, key)
    return generate_serving_cert(out, hostnames)
