"""Can this process reach Kafka with these settings? One metadata request before a component starts,
and, when it fails, one line a person can act on: TLS handshake failed (unknown CA, host name
mismatch, client certificate required), authentication failed, not authorized, a plaintext client on
a TLS listener (or the other way round). librdkafka's own retry lines never reach the screen."""

from __future__ import annotations

import contextlib
import socket
import ssl
import time

from kafkaclient.clients import confluent_config
from kafkaclient.settings import PLAINTEXT, KafkaSecurity


class KafkaAccessError(RuntimeError):
    """Kafka answered, but not to these settings (or not at all); the message is one line."""


def check_access(bootstrap: str, security: KafkaSecurity = PLAINTEXT, timeout_s: float = 10.0):
    """Metadata of the cluster (confluent-kafka's ``ClusterMetadata``), or ``KafkaAccessError``."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors: list = []
    admin = AdminClient(confluent_config(bootstrap, security, error_cb=errors.append, log_level=0))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            metadata = admin.list_topics(timeout=min(1.0, timeout_s))
            break
        except KafkaException as exc:
            admin.poll(0.1)  # serve error_cb: the handshake's or authentication's own words
            # A failed handshake or login, or every broker down, will not mend by waiting.
            if time.monotonic() > deadline or {e.code() for e in errors} & _FINAL:
                raise KafkaAccessError(explain(bootstrap, security, errors, exc)) from None
    if not metadata.brokers:
        raise KafkaAccessError(f"Kafka at {bootstrap} answered with no brokers")
    return metadata


_FINAL = {-181, -169, 58, -187}  # _SSL, _AUTHENTICATION, SASL_AUTHENTICATION_FAILED, _ALL_BROKERS_DOWN


def explain(bootstrap: str, security: KafkaSecurity, errors: list, final: Exception | None = None) -> str:
    """The one line for a failed connection, from librdkafka's errors and a TLS check of our own."""
    from confluent_kafka import KafkaError

    codes = {e.code() for e in errors if isinstance(e, KafkaError)}
    texts = [e.str() if isinstance(e, KafkaError) else str(e) for e in errors]
    how = security.describe()
    auth = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
    if codes & auth:
        detail = next(e.str() for e in errors if isinstance(e, KafkaError) and e.code() in auth)
        return f"authentication failed at {bootstrap} ({how}): {_tail(detail)}"
    if not tcp_open(bootstrap):
        return f"no Kafka broker reachable at {bootstrap}"
    if security.tls:
        problem = tls_problem(bootstrap, security)
        if problem:
            return f"TLS handshake with {bootstrap} failed: {problem}"
    elif _speaks_tls(bootstrap):
        return (
            f"the listener at {bootstrap} speaks TLS but the client connects in plaintext: set "
            "KAFKA_SECURITY_PROTOCOL=SSL (or SASL_SSL)"
        )
    detail = _tail(texts[0]) if texts else str(final) if final else "no answer"
    return f"Kafka at {bootstrap} did not answer over {how}: {detail}"


def _tail(text: str) -> str:
    """librdkafka's message without its ``ssl://host:port/bootstrap:`` prefix and timing suffix."""
    text = text.split("/bootstrap: ", 1)[-1]
    return text.split(" (after ", 1)[0].strip()


def _addresses(bootstrap: str) -> list[tuple[str, int]]:
    found = []
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        with contextlib.suppress(ValueError):
            found.append((host.strip("[]") or "localhost", int(port)))
    return found


def tcp_open(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """Whether any bootstrap address accepts a TCP connection."""
    for host, port in _addresses(bootstrap):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def _speaks_tls(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """Whether the first address completes (or starts) a TLS handshake: a TLS listener."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    for host, port in _addresses(bootstrap)[:1]:
        try:
            with (
                socket.create_connection((host, port), timeout=timeout_s) as raw,
                context.wrap_socket(raw, server_hostname=host),
            ):
                return True
        except ssl.SSLError as exc:
            # A handshake alert (a client certificate required) still means TLS is spoken.
            return "alert" in str(exc).lower()
        except OSError:
            return False
    return False


def tls_problem(bootstrap: str, security: KafkaSecurity, timeout_s: float = 3.0) -> str | None:
    """Python's TLS stack on the same files, for words librdkafka does not give: which part of the
    handshake failed. None when the handshake and a first read succeed."""
    props = security.properties
    host, port = _addresses(bootstrap)[0]
    try:
        context = ssl.create_default_context(cafile=props.get("ssl.ca.location"))
        context.check_hostname = props.get("ssl.endpoint.identification.algorithm", "https").lower() != "none"
        if "ssl.certificate.location" in props:
            context.load_cert_chain(
                props["ssl.certificate.location"], props["ssl.key.location"], props.get("ssl.key.password")
            )
    except (ssl.SSLError, OSError) as exc:
        return f"cannot load the client's TLS files: {exc}"
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            # TLS 1.3 reports a missing client certificate only after the handshake: read once.
            tls.settimeout(1.0)
            tls.sendall(b"\x00\x00\x00\x00")
            with contextlib.suppress(TimeoutError):
                tls.recv(1)
    except TimeoutError:
        return "the listener did not answer the TLS handshake: does it speak TLS? (KAFKA_SECURITY_PROTOCOL)"
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            return f"the broker's certificate is not valid for {host} ({reason}); connect by a name it carries"
        return (
            f"the broker's certificate is not signed by a CA the client trusts ({reason}); "
            "set KAFKA_SSL_CA_LOCATION to the CA that signed it"
        )
    except ssl.SSLEOFError as exc:
        # A server that rejects a client without a certificate may close the connection before its
        # alert reaches the client (TLS 1.3 sends it after the handshake): only an EOF arrives.
        if "ssl.certificate.location" not in props:
            return (
                "the broker closed the TLS connection without a reason: it most likely requires a client "
                "certificate (mutual TLS): set KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION"
            )
        return f"the broker closed the TLS connection during the handshake ({exc.reason or exc})"
    except ssl.SSLError as exc:
        text = str(exc).lower()
        if "certificate required" in text or "handshake failure" in text or "bad certificate" in text:
            if "ssl.certificate.location" not in props:
                return (
                    "the broker requires a client certificate (mutual TLS): set KAFKA_SSL_CERTIFICATE_LOCATION "
                    "and KAFKA_SSL_KEY_LOCATION"
                )
            return f"the broker refused the client certificate ({exc.reason or exc})"
        if "wrong version number" in text or "record layer failure" in text or "packet length" in text:
            return "the listener does not speak TLS: set KAFKA_SECURITY_PROTOCOL=PLAINTEXT (or SASL_PLAINTEXT)"
        return f"{exc.reason or exc}"
    except ConnectionError:
        return "the listener closed the connection during the TLS handshake: does it speak TLS?"
    except OSError:
        return None
    return None


_OPERATIONS = {"create": "create", "describe": "describe", "write": "write to", "read": "read from"}


def topic_error(error, topic: str, operation: str, bootstrap: str, security: KafkaSecurity) -> str:
    """One line for a request on ``topic`` that Kafka refused (a confluent-kafka ``KafkaError`` or a
    kafka-python exception): which topic, which operation, as whom."""
    name = error.name() if hasattr(error, "name") else type(error).__name__
    doing = _OPERATIONS.get(operation, operation)
    who = security.describe()
    if "TOPIC_AUTHORIZATION_FAILED" in name or "TopicAuthorizationFailed" in name:
        return f"not authorized to {doing} topic {topic} at {bootstrap} ({who}): grant the ACL or use another principal"
    if "CLUSTER_AUTHORIZATION_FAILED" in name or "ClusterAuthorizationFailed" in name:
        return (
            f"not authorized to {doing} topic {topic} at {bootstrap} ({who}): the principal may not create "
            "topics; create them beforehand (`smartcity topics` as an admin) or grant CREATE"
        )
    text = error.str() if hasattr(error, "str") else str(error)
    return f"cannot {operation} topic {topic} at {bootstrap}: {_tail(text)}"


def group_error(error, group: str, bootstrap: str, security: KafkaSecurity) -> str:
    """One line for a consumer group Kafka refused to this principal."""
    return (
        f"not authorized to use consumer group {group} at {bootstrap} ({security.describe()}): "
        "grant READ on the group or use another principal"
    )
