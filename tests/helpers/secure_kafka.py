"""Apache Kafka secured as clusters are: a test CA, broker and client certificates (``cryptography``);
a SASL_SSL listener (SCRAM-SHA-512 and PLAIN users, OAUTHBEARER with unsecured tokens), an SSL listener
that requires a client certificate, and ACLs (``StandardAuthorizer``): the pipeline's principals may use
their topics and nothing else."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smartcity.broker import EmbeddedBroker, Listener


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


def _write_pem_keystore(cert: Path, key: Path, path: Path) -> Path:
    """Key and certificate in one PEM file: the broker's PEM keystore."""
    path.write_bytes(key.read_bytes() + cert.read_bytes())
    path.chmod(0o600)
    return path


# The pipeline's principals: one user for both SASL mechanisms, and the client certificate's common name.
PIPELINE_USER = "pipeline"
SCRAM_PASSWORD = "scram-pass-3b91d07c"  # test secrets: the runs must never show them
PLAIN_PASSWORD = "plain-pass-c44a1e96"
CERT_USER = "smartcity-client"
# What the principals may do: everything the pipeline needs on topics named ``GRANTED``*, only writing
# (no reading) on ``WRITE_ONLY``*; on any other topic nothing.
GRANTED = "ok_"
WRITE_ONLY = "wo_"


class SecuredKafka:
    """One Apache Kafka broker with three listeners besides the controller's:
    - ``SASL_SSL``: TLS, then SCRAM-SHA-512, PLAIN or OAUTHBEARER (Kafka's unsecured-token validator);
    - ``MTLS``: TLS that requires a client certificate signed by the test CA (principal: its common name);
    - the plaintext one the embedded broker always has, here for the broker itself and for set-up: its
      principal (ANONYMOUS) is the super user. Like the controller's, it listens on loopback only.
    ``cert``/``key``: the broker's certificate (another host's, for the host name check)."""

    def __init__(self, folder: Path, pki: Pki, *, cert: Path | None = None, key: Path | None = None) -> None:
        self.folder, self.pki = folder, pki
        folder.mkdir(parents=True, exist_ok=True)
        keystore = _write_pem_keystore(cert or pki.broker_cert, key or pki.broker_key, folder / "broker-keystore.pem")
        tls = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(keystore)}
        properties = {
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
            **{f"listener.name.sasl_ssl.{k}": v for k, v in tls.items()},
            # OAUTHBEARER with Kafka's default validator: unsecured tokens, whose subject is the principal.
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN,OAUTHBEARER",
            "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config": (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
            ),
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.sasl_ssl.plain.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
            f'required user_{PIPELINE_USER}="{PLAIN_PASSWORD}";',
            **{f"listener.name.mtls.{k}": v for k, v in tls.items()},
            "listener.name.mtls.ssl.truststore.type": "PEM",
            "listener.name.mtls.ssl.truststore.location": str(pki.ca),
            "listener.name.mtls.ssl.client.auth": "required",
        }
        self.broker = EmbeddedBroker(
            folder / "kafka",
            listeners=[Listener("SASL_SSL", "SASL_SSL"), Listener("MTLS", "SSL")],
            properties=properties,
        )

    @property
    def sasl_ssl(self) -> str:
        return self.broker.address("SASL_SSL")

    @property
    def mtls(self) -> str:
        return self.broker.address("MTLS")

    @property
    def superuser(self) -> str:
        """The plaintext listener, for set-up and for reading back what landed."""
        return self.broker.bootstrap

    def start(self) -> SecuredKafka:
        self.broker.start()
        try:
            self._set_up()
        except Exception:
            self.broker.stop()
            raise
        return self

    def _set_up(self) -> None:
        """The SCRAM user (through the admin API: no password on a command line) and the ACLs."""
        from confluent_kafka.admin import (
            AclBinding,
            AclOperation,
            AclPermissionType,
            AdminClient,
            ResourcePatternType,
            ResourceType,
            ScramCredentialInfo,
            ScramMechanism,
            UserScramCredentialUpsertion,
        )

        admin = AdminClient({"bootstrap.servers": self.superuser})
        credential = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
        upsert = UserScramCredentialUpsertion(PIPELINE_USER, credential, SCRAM_PASSWORD.encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)
        # (resource, name prefix, operations): the pipeline's topics, and the consumer groups the job's
        # Kafka readers name (spark/kafka_source.py: READER_GROUP and the driver's probe).
        read_write = (AclOperation.DESCRIBE, AclOperation.CREATE, AclOperation.WRITE, AclOperation.READ)
        granted = [
            (ResourceType.TOPIC, GRANTED, read_write),
            (ResourceType.TOPIC, WRITE_ONLY, read_write[:3]),
            (ResourceType.GROUP, "smartcity", (AclOperation.READ,)),
        ]
        bindings = [
            AclBinding(
                resource, prefix, ResourcePatternType.PREFIXED, f"User:{user}", "*", operation, AclPermissionType.ALLOW
            )
            for resource, prefix, operations in granted
            for operation in operations
            for user in (PIPELINE_USER, CERT_USER)
        ]
        for future in admin.create_acls(bindings, request_timeout=30).values():
            future.result(timeout=30)

    def stop(self) -> None:
        self.broker.stop()

    def __enter__(self) -> SecuredKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
