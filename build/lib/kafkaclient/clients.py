"""One set of settings, mapped to each Kafka client of the pipeline: confluent-kafka (librdkafka's own
names), kafka-python (its argument names), the Spark job's Python Kafka source (string options, the
secrets apart) and Spark's native connector (the Java client's names behind ``kafka.``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from kafkaclient import msk_iam
from kafkaclient.settings import PLAINTEXT, SECRET_KEYS, KafkaSecurity, KafkaSettingsError, checked

# The Spark job's tasks read the secrets from their environment under this name (a JSON object of
# properties): in local mode they inherit it from the driver, on a cluster through
# ``spark.executorEnv``, which Spark redacts (the name matches its redaction pattern).
SECRETS_ENV = "SMARTCITY_KAFKA_SECRETS"
REGION_OPTION = "kafka.msk.iam.region"
# Added to Spark's own pattern so that JAAS lines (which carry SASL passwords) are redacted too.
SPARK_REDACTION_REGEX = r"(?i)secret|password|token|access[.]?key|jaas"


def confluent_config(bootstrap: str, security: KafkaSecurity = PLAINTEXT, **extra: object) -> dict:
    """A configuration for confluent-kafka's Producer, Consumer and AdminClient."""
    config: dict = {"bootstrap.servers": bootstrap, **security.properties}
    if security.msk_iam_region:
        region = security.msk_iam_region
        config["oauth_cb"] = lambda _config_str: msk_iam.token_seconds(region)
    config.update(extra)
    return config


def kafka_python_config(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> dict:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    props = security.properties
    kwargs: dict = {"bootstrap_servers": bootstrap, "security_protocol": security.protocol}
    if security.tls:
        if props.get("ssl.keystore.location"):
            raise KafkaSettingsError(
                "kafka-python takes a PEM client certificate and key, not a PKCS#12 keystore: set "
                "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION, or use --backend confluent"
            )
        kwargs["ssl_check_hostname"] = props.get("ssl.endpoint.identification.algorithm", "https").lower() != "none"
        for key, arg in (
            ("ssl.ca.location", "ssl_cafile"),
            ("ssl.certificate.location", "ssl_certfile"),
            ("ssl.key.location", "ssl_keyfile"),
            ("ssl.key.password", "ssl_password"),
        ):
            if key in props:
                kwargs[arg] = props[key]
    if security.mechanism:
        kwargs["sasl_mechanism"] = security.mechanism
        if security.mechanism == "OAUTHBEARER":
            if not security.msk_iam_region:
                raise KafkaSettingsError(
                    "kafka-python supports OAUTHBEARER here through MSK IAM only: use --backend confluent"
                )
            kwargs["sasl_oauth_token_provider"] = msk_iam.kafka_python_provider(security.msk_iam_region)
        else:
            kwargs["sasl_plain_username"] = props["sasl.username"]
            kwargs["sasl_plain_password"] = props["sasl.password"]
    return kwargs


# -- the Spark job's Python Kafka source --------------------------------------------------------


def source_options(security: KafkaSecurity) -> dict[str, str]:
    """Options for the Python Kafka source: every property but the secrets, behind ``kafka.``."""
    options = {f"kafka.{k}": v for k, v in security.public().items()}
    if security.msk_iam_region:
        options[REGION_OPTION] = security.msk_iam_region
    return options


def secrets_env(security: KafkaSecurity) -> dict[str, str]:
    """The environment that carries the secrets to the job's tasks (empty when there are none)."""
    secrets = security.secrets()
    return {SECRETS_ENV: json.dumps(secrets)} if secrets else {}


def from_source_options(options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> KafkaSecurity:
    """In a task: the settings back from the source's options (lower-cased by Spark) and the secrets
    from the task's environment."""
    env = os.environ if environ is None else environ
    skip = {"kafka.bootstrap.servers", REGION_OPTION}
    props = {k[len("kafka.") :]: v for k, v in options.items() if k.startswith("kafka.") and k not in skip}
    if env.get(SECRETS_ENV):
        props.update(json.loads(env[SECRETS_ENV]))
    return checked(props, options.get(REGION_OPTION))


# -- Spark's native Kafka connector (the Java client) -------------------------------------------


def native_options(security: KafkaSecurity) -> dict[str, str]:
    """``kafka.``-prefixed options of Spark's Kafka connector. MSK IAM needs the
    ``software.amazon.msk:aws-msk-iam-auth`` package on the classpath (see docker-compose.yml)."""
    props = security.properties
    java: dict[str, str] = {"security.protocol": security.protocol}
    if security.tls:
        if "ssl.ca.location" in props:
            java |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": props["ssl.ca.location"]}
        if "ssl.certificate.location" in props:
            if props["ssl.certificate.location"] != props["ssl.key.location"]:
                raise KafkaSettingsError(
                    "Spark's Kafka connector reads a client certificate and its key from one PEM file: set "
                    "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION to the same file, or give a "
                    "keystore (ssl.keystore.location, ssl.keystore.type) in KAFKA_CLIENT_PROPERTIES"
                )
            java |= {"ssl.keystore.type": "PEM", "ssl.keystore.location": props["ssl.certificate.location"]}
            if "ssl.key.password" in props:
                java["ssl.key.password"] = props["ssl.key.password"]
        if "ssl.keystore.location" in props:
            java["ssl.keystore.location"] = props["ssl.keystore.location"]
            java.setdefault("ssl.keystore.type", "PKCS12")
            if "ssl.keystore.password" in props:
                java["ssl.keystore.password"] = props["ssl.keystore.password"]
        identification = props.get("ssl.endpoint.identification.algorithm", "https").lower()
        java["ssl.endpoint.identification.algorithm"] = "" if identification == "none" else "https"
    mechanism = security.mechanism
    if security.msk_iam_region:
        java |= {
            "sasl.mechanism": "AWS_MSK_IAM",
            "sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
            "sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
        }
    elif mechanism == "OAUTHBEARER":  # OIDC: the Java client's login settings come from KAFKA_CLIENT_PROPERTIES
        java["sasl.mechanism"] = mechanism
    elif mechanism:
        module = "plain.PlainLoginModule" if mechanism == "PLAIN" else "scram.ScramLoginModule"
        java |= {
            "sasl.mechanism": mechanism,
            "sasl.jaas.config": f"org.apache.kafka.common.security.{module} required "
            f"username={_jaas_quote(props['sasl.username'])} password={_jaas_quote(props['sasl.password'])};",
        }
    # Other properties of a properties file (client.id, socket settings) mean the same to both clients.
    java |= {
        k: v
        for k, v in props.items()
        if k not in LIBRDKAFKA_ONLY and not k.startswith("sasl.oauthbearer.") and k not in java
    }
    java |= dict(security.java)  # what a properties file says for the Java client wins
    return {f"kafka.{k}": v for k, v in java.items()}


# Properties mapped above, or that the Java client does not know (with every ``sasl.oauthbearer.*``).
LIBRDKAFKA_ONLY = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.endpoint.identification.algorithm",
    }
)


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def redacted(options: Mapping[str, str]) -> dict[str, str]:
    """Options as they may be shown: secrets replaced."""
    return {k: ("***" if k.removeprefix("kafka.") in SECRET_KEYS else v) for k, v in options.items()}
