"""TLS in front of the embedded broker: a test CA, broker and client certificates (``cryptography``) and
Debian's ``stunnel4`` terminating TLS (optionally mutual TLS) for a Tansu broker that advertises the
TLS address. The embedded broker's own TLS does not complete a handshake, hence stunnel."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smartcity.broker import EmbeddedBroker, free_port, wait_until_listening


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that signed the broker's and the client's certificates
    other_ca: Path  # a CA that signed nothing here
    broker_cert: Path
    broker_key: Path
    client_cert: Path
    client_key: Path
    client_pem: Path  # certificate and key in one file (what the Java client's PEM keystore reads)
    wrong_host_cert: Path  # signed by ``ca`` for a name that is not localhost
    wrong_host_key: Path
    client_key_encrypted: Path  # the client's key, encrypted with KEY_PASSWORD


KEY_PASSWORD = "key-pass-7f3c91e2"  # a test secret: the runs must never show it


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key, path: Path, password: str | None = None) -> Path:
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    path.chmod(0o600)
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(common_name: str):
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(ca_key, ca_cert, common_name: str, sans: list[x509.GeneralName], usage) -> tuple:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("smartcity test CA")
    _, other_cert = _ca("some other CA")
    local = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    broker_key, broker_cert = _leaf(ca_key, ca_cert, "localhost", local, ExtendedKeyUsageOID.SERVER_AUTH)
    client_key, client_cert = _leaf(ca_key, ca_cert, "smartcity-client", [], ExtendedKeyUsageOID.CLIENT_AUTH)
    wrong_key, wrong_cert = _leaf(
        ca_key, ca_cert, "kafka.example.com", [x509.DNSName("kafka.example.com")], ExtendedKeyUsageOID.SERVER_AUTH
    )
    pki = Pki(
        ca=_write_cert(ca_cert, folder / "ca.pem"),
        other_ca=_write_cert(other_cert, folder / "other-ca.pem"),
        broker_cert=_write_cert(broker_cert, folder / "broker.pem"),
        broker_key=_write_key(broker_key, folder / "broker.key"),
        client_cert=_write_cert(client_cert, folder / "client.pem"),
        client_key=_write_key(client_key, folder / "client.key"),
        client_pem=folder / "client-combined.pem",
        wrong_host_cert=_write_cert(wrong_cert, folder / "wrong-host.pem"),
        wrong_host_key=_write_key(wrong_key, folder / "wrong-host.key"),
        client_key_encrypted=_write_key(client_key, folder / "client-encrypted.key", KEY_PASSWORD),
    )
    pki.client_pem.write_bytes(pki.client_cert.read_bytes() + pki.client_key.read_bytes())
    pki.client_pem.chmod(0o600)
    return pki


def stunnel_binary() -> str:
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    if not found:
        raise RuntimeError("stunnel4 is not installed (apt-get install stunnel4; .ci/run installs it)")
    return found


class TlsBroker:
    """An embedded broker reachable only through TLS: Tansu on a private loopback port, advertising the
    stunnel port, and stunnel on that port. ``mutual``: clients must show a certificate of the CA."""

    def __init__(self, folder: Path, pki: Pki, *, mutual: bool = False, cert: Path | None = None, key=None) -> None:
        self.folder, self.pki, self.mutual = folder, pki, mutual
        self.cert, self.key = cert or pki.broker_cert, key or pki.broker_key
        self.tls_port = free_port()
        self.broker = EmbeddedBroker(log_path=folder / "tansu.log", advertised=f"127.0.0.1:{self.tls_port}")
        self.broker_port = self.broker.port
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.tls_port}"

    @property
    def plaintext_bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    def start(self) -> TlsBroker:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.broker.start()
        conf = self.folder / "stunnel.conf"
        lines = [
            "foreground = yes",
            "pid =",
            f"output = {self.folder / 'stunnel.log'}",
            "[kafka]",
            f"accept = 127.0.0.1:{self.tls_port}",
            f"connect = 127.0.0.1:{self.broker_port}",
            f"cert = {self.cert}",
            f"key = {self.key}",
        ]
        if self.mutual:
            lines += [f"CAfile = {self.pki.ca}", "verify = 2"]
        conf.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            [stunnel_binary(), str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_listening("127.0.0.1", self.tls_port)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        self.broker.stop()

    def __enter__(self) -> TlsBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
