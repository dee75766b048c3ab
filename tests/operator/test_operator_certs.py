from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from authgate.operator.certs import ensure_serving_cert, generate_serving_cert


def test_generated_cert_loads_in_ssl_and_covers_ips_and_names(tmp_path: Path) -> None:
    cert = generate_serving_cert(tmp_path, ["127.0.0.1", "authgate.svc"])
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert.cert_file, cert.key_file)  # raises if key and cert mismatch
    leaf = x509.load_pem_x509_certificate(cert.cert_file.read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["authgate.svc"]
    ca = x509.load_pem_x509_certificate(cert.ca_pem)
    leaf.verify_directly_issued_by(ca)
    assert oct(cert.key_file.stat().st_mode & 0o777) == "0o600"


def test_existing_cert_is_reused(tmp_path: Path) -> None:
    first = generate_serving_cert(tmp_path, ["127.0.0.1"])
    before = first.cert_file.read_bytes()
    again = ensure_serving_cert(tmp_path, ["127.0.0.1"])
    assert again.cert_file.read_bytes() == before


def test_mounted_tls_secret_without_ca_is_used(tmp_path: Path) -> None:
    made = generate_serving_cert(tmp_path / "made", ["127.0.0.1"])
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    (mounted / "tls.crt").write_bytes(made.cert_file.read_bytes())
    (mounted / "tls.key").write_bytes(made.key_file.read_bytes())
    cert = ensure_serving_cert(mounted, ["127.0.0.1"])
    assert cert.cert_file == mounted / "tls.crt" and cert.ca_file == mounted / "tls.crt"
    assert not (mounted / "ca.crt").exists()
