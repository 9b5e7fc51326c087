"""Kafka connection settings, named as librdkafka names them, from environment variables and an
optional client properties file in Kafka's own format (what ``kafka-console-producer
--producer.config`` and ``kcat -F`` read). The variables win over the file.

| variable                            | property                                |
|-------------------------------------|-----------------------------------------|
| KAFKA_SECURITY_PROTOCOL             | security.protocol                       |
| KAFKA_SSL_CA_LOCATION               | ssl.ca.location                         |
| KAFKA_SSL_CERTIFICATE_LOCATION      | ssl.certificate.location                |
| KAFKA_SSL_KEY_LOCATION              | ssl.key.location                        |
| KAFKA_SSL_KEY_PASSWORD              | ssl.key.password                        |
| KAFKA_SSL_ENDPOINT_IDENTIFICATION   | ssl.endpoint.identification.algorithm   |
| KAFKA_SASL_MECHANISM                | sasl.mechanism                          |
| KAFKA_SASL_USERNAME                 | sasl.username                           |
| KAFKA_SASL_PASSWORD(_FILE)          | sasl.password                           |
| KAFKA_MSK_IAM_REGION                | (MSK IAM tokens for OAUTHBEARER)        |
| KAFKA_CLIENT_PROPERTIES             | a properties file for everything else   |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")

VARIABLES = {
    "KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
    "KAFKA_SSL_CERTIFICATE_LOCATION": "ssl.certificate.location",
    "KAFKA_SSL_KEY_LOCATION": "ssl.key.location",
    "KAFKA_SSL_KEY_PASSWORD": "ssl.key.password",
    "KAFKA_SSL_ENDPOINT_IDENTIFICATION": "ssl.endpoint.identification.algorithm",
    "KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "KAFKA_SASL_USERNAME": "sasl.username",
    "KAFKA_SASL_PASSWORD": "sasl.password",
}
# Every variable this module reads: a child process that talks to the embedded (plaintext) broker
# is started without them.
ENV_NAMES = (*VARIABLES, "KAFKA_SASL_PASSWORD_FILE", "KAFKA_MSK_IAM_REGION", "KAFKA_CLIENT_PROPERTIES")
# Properties whose values are secrets: never in options, command lines, logs or error messages.
SECRET_KEYS = frozenset(
    {
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "sasl.oauthbearer.client.secret",
        "sasl.jaas.config",
    }
)
# Keys of the Java client that librdkafka spells otherwise, or that only the Java client has.
JAVA_ALIASES = {"sasl.mechanisms": "sasl.mechanism"}
JAVA_ONLY = frozenset(
    {
        "sasl.jaas.config",
        "sasl.client.callback.handler.class",
        "sasl.login.callback.handler.class",
        "ssl.truststore.location",
        "ssl.truststore.type",
        "ssl.truststore.password",
        "ssl.keystore.type",
    }
)
FILE_KEYS = ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.keystore.location")
MSK_IAM_LOGIN = "software.amazon.msk.auth.iam.IAMLoginModule"
# librdkafka's own unsecured JWT (``sasl.oauthbearer.config=principal=<name>``), which brokers with Kafka's
# default OAUTHBEARER validator accept: for test clusters.
UNSECURED_JWT = "enable.sasl.oauthbearer.unsecure.jwt"


class KafkaSettingsError(ValueError):
    """A Kafka connection setting the clients cannot use (one line, no secret in it)."""


@dataclass(frozen=True)
class KafkaSecurity:
    """librdkafka properties for security (and anything from the properties file), plus the AWS region
    when OAUTHBEARER tokens come from MSK IAM. ``java`` holds what only the Java client understands
    (a keystore type, a JAAS line), for Spark's native connector."""

    properties: Mapping[str, str] = field(default_factory=dict)
    msk_iam_region: str | None = None
    java: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # secrets never reach a log line or a traceback
        shown = {k: ("***" if k in SECRET_KEYS else v) for k, v in self.properties.items()}
        return f"KafkaSecurity(protocol={self.protocol}, properties={shown}, msk_iam_region={self.msk_iam_region})"

    __str__ = __repr__

    @property
    def protocol(self) -> str:
        return self.properties.get("security.protocol", "PLAINTEXT")

    @property
    def mechanism(self) -> str | None:
        return self.properties.get("sasl.mechanism")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def secured(self) -> bool:
        """Anything beyond plaintext with no other setting (an explicit PLAINTEXT alone is not)."""
        others = set(self.properties) - {"security.protocol"}
        return self.protocol != "PLAINTEXT" or bool(others) or bool(self.java)

    def public(self) -> dict[str, str]:
        """The properties that are not secrets."""
        return {k: v for k, v in self.properties.items() if k not in SECRET_KEYS}

    def secrets(self) -> dict[str, str]:
        return {k: v for k, v in self.properties.items() if k in SECRET_KEYS}

    def describe(self) -> str:
        """Protocol and mechanism, for messages: ``SASL_SSL/SCRAM-SHA-512 as user alice``."""
        text = self.protocol + (f"/{self.mechanism}" if self.mechanism else "")
        if self.msk_iam_region:
            text += f" (MSK IAM, {self.msk_iam_region})"
        elif self.properties.get("sasl.username"):
            text += f" as user {self.properties['sasl.username']}"
        return text


PLAINTEXT = KafkaSecurity()


def from_env(environ: Mapping[str, str] | None = None) -> KafkaSecurity:
    """The settings of the environment (``os.environ`` by default), checked."""
    env = os.environ if environ is None else environ
    properties: dict[str, str] = {}
    java: dict[str, str] = {}
    region = None
    path = env.get("KAFKA_CLIENT_PROPERTIES")
    if path:
        properties, java, region = _from_file_properties(read_properties_file(path), env)
    for name, key in VARIABLES.items():
        if env.get(name):
            properties[key] = env[name].strip() if key not in SECRET_KEYS else env[name]
    if env.get("KAFKA_SASL_PASSWORD_FILE") and not env.get("KAFKA_SASL_PASSWORD"):
        properties["sasl.password"] = _read_secret_file("KAFKA_SASL_PASSWORD_FILE", env["KAFKA_SASL_PASSWORD_FILE"])
    if env.get("KAFKA_MSK_IAM_REGION"):
        region = env["KAFKA_MSK_IAM_REGION"].strip()
    return checked(properties, region, java)


def checked(properties: Mapping[str, str], region: str | None = None, java: Mapping[str, str] | None = None):
    """Settings whose combination every client accepts; otherwise one line naming the variable."""
    props = dict(properties)
    if "security.protocol" in props:
        props["security.protocol"] = props["security.protocol"].upper()
    if "sasl.mechanism" in props:
        props["sasl.mechanism"] = props["sasl.mechanism"].upper()
    protocol = props.get("security.protocol", "PLAINTEXT")
    if protocol not in PROTOCOLS:
        raise KafkaSettingsError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    mechanism = props.get("sasl.mechanism")
    sasl = protocol.startswith("SASL_")
    if sasl and not mechanism:
        raise KafkaSettingsError(
            f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM ({', '.join(MECHANISMS)})"
        )
    if mechanism and not sasl:
        raise KafkaSettingsError(
            f"KAFKA_SASL_MECHANISM={mechanism} needs KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT), "
            f"got {protocol}"
        )
    if mechanism and mechanism not in MECHANISMS:
        raise KafkaSettingsError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}, got {mechanism!r}")
    if mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        for key, name in (("sasl.username", "KAFKA_SASL_USERNAME"), ("sasl.password", "KAFKA_SASL_PASSWORD")):
            if not props.get(key):
                raise KafkaSettingsError(f"KAFKA_SASL_MECHANISM={mechanism} needs {name}")
    oidc = props.get("sasl.oauthbearer.method", "").lower() == "oidc"
    unsecured = props.get(UNSECURED_JWT, "").lower() == "true"  # Kafka's unsecured tokens: test clusters only
    if mechanism == "OAUTHBEARER" and not (region or oidc or unsecured):
        raise KafkaSettingsError(
            "KAFKA_SASL_MECHANISM=OAUTHBEARER needs KAFKA_MSK_IAM_REGION (Amazon MSK IAM), "
            f"or sasl.oauthbearer.method=oidc (or, for a test cluster, {UNSECURED_JWT}=true) in KAFKA_CLIENT_PROPERTIES"
        )
    if region and mechanism != "OAUTHBEARER":
        raise KafkaSettingsError("KAFKA_MSK_IAM_REGION needs KAFKA_SASL_MECHANISM=OAUTHBEARER and SASL_SSL")
    if region and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise KafkaSettingsError(f"KAFKA_MSK_IAM_REGION must be an AWS region such as us-east-1, got {region!r}")
    tls_keys = [k for k in props if k.startswith("ssl.")]
    if tls_keys and protocol not in ("SSL", "SASL_SSL"):
        name = next((n for n, k in VARIABLES.items() if k == tls_keys[0]), tls_keys[0])
        raise KafkaSettingsError(
            f"{name} is set, but KAFKA_SECURITY_PROTOCOL is {protocol} (TLS needs SSL or SASL_SSL)"
        )
    identification = props.get("ssl.endpoint.identification.algorithm")
    if identification is not None and identification.lower() not in ("https", "none"):
        raise KafkaSettingsError(f"KAFKA_SSL_ENDPOINT_IDENTIFICATION must be https or none, got {identification!r}")
    if ("ssl.certificate.location" in props) != ("ssl.key.location" in props):
        raise KafkaSettingsError(
            "a client certificate needs both KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION"
        )
    for key in FILE_KEYS:
        if key in props:
            _readable(next((n for n, k in VARIABLES.items() if k == key), key), props[key])
    return KafkaSecurity(props, region, dict(java or {}))


def _readable(name: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise KafkaSettingsError(f"{name}: cannot read {path}: {os.strerror(exc.errno or 0).lower()}") from None


def _read_secret_file(name: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise KafkaSettingsError(f"{name}: cannot read {path}: {os.strerror(exc.errno or 0).lower()}") from None


# -- the properties file ----------------------------------------------------------------------


def read_properties_file(path: str) -> dict[str, str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise KafkaSettingsError(
            f"KAFKA_CLIENT_PROPERTIES: cannot read {path}: {os.strerror(exc.errno or 0).lower()}"
        ) from None
    return parse_properties(text)


def parse_properties(text: str) -> dict[str, str]:
    """Java's ``.properties`` format: ``key=value``, ``key: value`` or ``key value``; ``#`` and ``!``
    comments; a trailing backslash continues the line; ``\\t``, ``\\n``, ``\\uXXXX`` escapes."""
    result: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if _continues(line):
            logical += line[:-1]
            continue
        logical += line
        key, value = _split_pair(logical)
        logical = ""
        if key:
            result[key] = value
    if logical:
        key, value = _split_pair(logical)
        if key:
            result[key] = value
    return result


def _continues(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _split_pair(line: str) -> tuple[str, str]:
    i, n = 0, len(line)
    while i < n and line[i] not in "=: \t":
        i += 2 if line[i] == "\\" else 1
    key = line[:i]
    rest = line[i:].lstrip(" \t")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t")
    return _unescape(key), _unescape(rest)


def _unescape(text: str) -> str:
    def one(match: re.Match) -> str:
        char = match.group(1)
        if char.startswith("u"):
            return chr(int(char[1:], 16))
        return {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(char, char)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text)


_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def _from_file_properties(
    raw: Mapping[str, str], env: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str], str | None]:
    """A file written for the Java client or for librdkafka, as librdkafka properties, Java-only
    properties (kept for the native connector) and the MSK IAM region when the file asks for it."""
    props: dict[str, str] = {}
    java: dict[str, str] = {}
    region = None
    for key, value in raw.items():
        key = JAVA_ALIASES.get(key, key)
        if key in JAVA_ONLY:
            java[key] = value
        else:
            props[key] = value
    jaas = java.get("sasl.jaas.config", "")
    if MSK_IAM_LOGIN in jaas or props.get("sasl.mechanism") == "AWS_MSK_IAM":
        # The Java client's MSK IAM set-up: the same thing as OAUTHBEARER with signed tokens here.
        props["sasl.mechanism"] = "OAUTHBEARER"
        region = env.get("KAFKA_MSK_IAM_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            raise KafkaSettingsError("KAFKA_CLIENT_PROPERTIES asks for MSK IAM: set KAFKA_MSK_IAM_REGION")
    elif jaas:
        options = {k: v.replace('\\"', '"') for k, v in _JAAS_OPTION.findall(jaas)}
        if "username" in options:
            props.setdefault("sasl.username", options["username"])
        if "password" in options:
            props.setdefault("sasl.password", options["password"])
    if java.get("ssl.truststore.location"):
        if java.get("ssl.truststore.type", "JKS").upper() != "PEM":
            raise KafkaSettingsError(
                "KAFKA_CLIENT_PROPERTIES: ssl.truststore.location must be a PEM file (ssl.truststore.type=PEM) "
                "for the Python clients; or set ssl.ca.location"
            )
        props.setdefault("ssl.ca.location", java["ssl.truststore.location"])
    return props, java, region
