"""The one set of Kafka settings: read from the environment and a properties file, checked, and mapped
to confluent-kafka, kafka-python, the Python Kafka source and Spark's native connector."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from kafkaclient import clients, msk_iam
from kafkaclient.settings import KafkaSettingsError, from_env, parse_properties


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    found = {}
    for name in ("ca.pem", "client.pem", "client.key", "password.txt"):
        (tmp_path / name).write_text("s3cret-from-file\n" if name == "password.txt" else "-----PEM-----\n")
        found[name] = str(tmp_path / name)
    return found


def scram_env(files: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "alice",
        "KAFKA_SASL_PASSWORD": 'pa"ss\\word',
        "KAFKA_SSL_CA_LOCATION": files["ca.pem"],
    } | extra


def test_nothing_set_is_plaintext() -> None:
    security = from_env({})
    assert security.protocol == "PLAINTEXT" and not security.secured
    assert not from_env({"KAFKA_SECURITY_PROTOCOL": "plaintext"}).secured  # fine for the embedded broker
    assert clients.confluent_config("h:9092", security) == {"bootstrap.servers": "h:9092"}
    assert clients.kafka_python_config("h:9092", security) == {
        "bootstrap_servers": "h:9092",
        "security_protocol": "PLAINTEXT",
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_with_a_password_maps_to_every_client(files: dict[str, str], mechanism: str) -> None:
    security = from_env(scram_env(files, KAFKA_SASL_MECHANISM=mechanism))
    assert security.protocol == "SASL_SSL"
    assert clients.confluent_config("b:9096", security) == {
        "bootstrap.servers": "b:9096",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": "alice",
        "sasl.password": 'pa"ss\\word',
        "ssl.ca.location": files["ca.pem"],
    }
    kp = clients.kafka_python_config("b:9096", security)
    assert kp["security_protocol"] == "SASL_SSL" and kp["sasl_mechanism"] == mechanism
    assert (kp["sasl_plain_username"], kp["sasl_plain_password"]) == ("alice", 'pa"ss\\word')
    assert kp["ssl_cafile"] == files["ca.pem"] and kp["ssl_check_hostname"] is True
    # The Python source's options carry no secret; the tasks' environment carries it.
    options = clients.source_options(security)
    assert 'pa"ss\\word' not in json.dumps(options) and options["kafka.sasl.username"] == "alice"
    env = clients.secrets_env(security)
    back = clients.from_source_options({**options, "kafka.bootstrap.servers": "b:9096"}, env)
    assert back.properties == security.properties
    # The Java client: a JAAS line with the password quoted, the CA as a PEM trust store.
    native = clients.native_options(security)
    module = "plain.PlainLoginModule" if mechanism == "PLAIN" else "scram.ScramLoginModule"
    assert native["kafka.sasl.jaas.config"] == (
        f'org.apache.kafka.common.security.{module} required username="alice" password="pa\\"ss\\\\word";'
    )
    assert native["kafka.sasl.mechanism"] == mechanism and native["kafka.security.protocol"] == "SASL_SSL"
    assert native["kafka.ssl.truststore.type"] == "PEM" and native["kafka.ssl.truststore.location"] == files["ca.pem"]
    assert clients.redacted(native)["kafka.sasl.jaas.config"] == "***"


def test_mutual_tls_maps_to_every_client(files: dict[str, str]) -> None:
    security = from_env(
        {
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CA_LOCATION": files["ca.pem"],
            "KAFKA_SSL_CERTIFICATE_LOCATION": files["client.pem"],
            "KAFKA_SSL_KEY_LOCATION": files["client.key"],
            "KAFKA_SSL_KEY_PASSWORD": "kp",
            "KAFKA_SSL_ENDPOINT_IDENTIFICATION": "none",
        }
    )
    kp = clients.kafka_python_config("b:9094", security)
    assert kp["ssl_certfile"] == files["client.pem"] and kp["ssl_keyfile"] == files["client.key"]
    assert kp["ssl_password"] == "kp" and kp["ssl_check_hostname"] is False
    assert clients.source_options(security).get("kafka.ssl.key.password") is None
    assert json.loads(clients.secrets_env(security)[clients.SECRETS_ENV]) == {"ssl.key.password": "kp"}
    # The Java client reads certificate and key from one PEM file.
    with pytest.raises(KafkaSettingsError, match="one PEM file"):
        clients.native_options(security)
    combined = from_env(
        {
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CERTIFICATE_LOCATION": files["client.pem"],
            "KAFKA_SSL_KEY_LOCATION": files["client.pem"],
        }
    )
    native = clients.native_options(combined)
    assert native["kafka.ssl.keystore.type"] == "PEM" and native["kafka.ssl.keystore.location"] == files["client.pem"]
    assert native["kafka.ssl.endpoint.identification.algorithm"] == "https"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SASL_MECHANISM": "PLAIN"}, "needs KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI"}, "must be one of PLAIN"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                "KAFKA_SASL_USERNAME": "a",
            },
            "needs KAFKA_SASL_PASSWORD",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "OAUTHBEARER"}, "needs KAFKA_MSK_IAM_REGION"),
        ({"KAFKA_SSL_CA_LOCATION": "/etc/hostname"}, "KAFKA_SSL_CA_LOCATION is set, but KAFKA_SECURITY_PROTOCOL is"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_LOCATION": "/nonexistent/ca.pem"}, "cannot read"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/hostname"}, "needs both"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_ENDPOINT_IDENTIFICATION": "off"}, "must be https or none"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "OAUTHBEARER", "KAFKA_MSK_IAM_REGION": "x"},
            "must be an AWS region",
        ),
        ({"KAFKA_CLIENT_PROPERTIES": "/nonexistent.properties"}, "KAFKA_CLIENT_PROPERTIES: cannot read"),
    ],
)
def test_settings_no_client_can_use_are_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(KafkaSettingsError, match=message) as failure:
        from_env(env)
    assert "\n" not in str(failure.value)


def test_the_password_can_come_from_a_file_and_never_shows(files: dict[str, str]) -> None:
    env = scram_env(files)
    del env["KAFKA_SASL_PASSWORD"]
    security = from_env(env | {"KAFKA_SASL_PASSWORD_FILE": files["password.txt"]})
    assert security.properties["sasl.password"] == "s3cret-from-file"
    assert "s3cret" not in repr(security) and "s3cret" not in str(security) and "s3cret" not in security.describe()


def test_a_java_client_properties_file_is_understood(tmp_path: Path, files: dict[str, str]) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "# what kafka-console-producer --producer.config reads\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism = SCRAM-SHA-256\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
        '    username="bob" password="from-jaas";\n'
        f"ssl.truststore.type: PEM\nssl.truststore.location {files['ca.pem']}\n"
        "client.id=smartcity-fleet\n"
        "! another comment\n"
    )
    security = from_env({"KAFKA_CLIENT_PROPERTIES": str(path)})
    config = clients.confluent_config("b:9096", security)
    assert config["sasl.username"] == "bob" and config["sasl.password"] == "from-jaas"
    assert config["ssl.ca.location"] == files["ca.pem"] and config["client.id"] == "smartcity-fleet"
    assert "sasl.jaas.config" not in config and "ssl.truststore.location" not in config  # librdkafka knows neither
    native = clients.native_options(security)
    assert native["kafka.sasl.jaas.config"].endswith('username="bob" password="from-jaas";')
    assert native["kafka.client.id"] == "smartcity-fleet"
    # A variable wins over the file.
    assert (
        from_env({"KAFKA_CLIENT_PROPERTIES": str(path), "KAFKA_SASL_USERNAME": "carol"}).properties["sasl.username"]
        == "carol"
    )


def test_a_kcat_properties_file_passes_librdkafka_names_through(tmp_path: Path) -> None:
    path = tmp_path / "kcat.conf"
    path.write_text("security.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\nsasl.username=u\nsasl.password=p\n")
    security = from_env({"KAFKA_CLIENT_PROPERTIES": str(path)})
    assert security.mechanism == "PLAIN" and security.properties["sasl.password"] == "p"


def test_properties_format_details() -> None:
    parsed = parse_properties("a=1\n  b : two words \nc\\:d=x\\ty\ne=\\u0041\\\n  B\nempty=\n#x=1\n")
    assert parsed == {"a": "1", "b": "two words ", "c:d": "x\ty", "e": "AB", "empty": ""}


# -- Amazon MSK IAM ------------------------------------------------------------------------------


@pytest.fixture
def aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLETESTONLY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def decoded(token: str) -> dict[str, list[str]]:
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parsed = urlparse(url)
    assert parsed.netloc == "kafka.eu-west-1.amazonaws.com"
    return parse_qs(parsed.query)


def msk_security():
    return from_env(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "KAFKA_MSK_IAM_REGION": "eu-west-1",
        }
    )


@pytest.mark.usefixtures("aws_test_credentials")
def test_msk_iam_tokens_are_signed_locally_and_handed_to_confluent_kafka() -> None:
    from confluent_kafka import Producer

    security = msk_security()
    config = clients.confluent_config("127.0.0.1:9", security, log_level=0)
    assert config["sasl.mechanism"] == "OAUTHBEARER" and "oauth_cb" in config
    calls: list[tuple[str, float]] = []
    signer = config["oauth_cb"]
    config["oauth_cb"] = lambda cfg: calls.append(signer(cfg)) or calls[-1]
    producer = Producer(config)  # librdkafka asks for a token as the client starts
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        producer.poll(0.1)
    assert calls, "librdkafka never asked for a token"
    token, expiry = calls[0]
    query = decoded(token)
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLETESTONLY/")
    assert 800 < expiry - time.time() <= 900  # seconds since the epoch, as librdkafka wants them
    del producer


@pytest.mark.usefixtures("aws_test_credentials")
def test_msk_iam_tokens_for_kafka_python_are_reused_then_renewed_before_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka.net.sasl.oauth import AbstractTokenProvider

    kp = clients.kafka_python_config("b:9098", msk_security())
    provider = kp["sasl_oauth_token_provider"]
    assert isinstance(provider, AbstractTokenProvider) and kp["sasl_mechanism"] == "OAUTHBEARER"
    first = provider.token()
    assert decoded(first)["Action"] == ["kafka-cluster:Connect"]
    assert provider.token() == first  # reused while valid
    now = time.time()
    monkeypatch.setattr(msk_iam.time, "time", lambda: now + 900 - msk_iam.REFRESH_BEFORE_S + 1)
    time.sleep(1.1)  # a new signature differs by its timestamp
    assert provider.token() != first


def test_msk_iam_maps_to_the_native_connector_and_the_python_source() -> None:
    security = msk_security()
    native = clients.native_options(security)
    assert native["kafka.sasl.mechanism"] == "AWS_MSK_IAM"
    assert native["kafka.sasl.jaas.config"] == "software.amazon.msk.auth.iam.IAMLoginModule required;"
    assert native["kafka.sasl.client.callback.handler.class"] == "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
    options = clients.source_options(security)
    assert options[clients.REGION_OPTION] == "eu-west-1"
    back = clients.from_source_options(options, {})
    assert back.msk_iam_region == "eu-west-1" and "oauth_cb" in clients.confluent_config("b", back)


def test_the_job_gives_each_kafka_source_its_options_and_keeps_secrets_off_the_command_line(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from spark.job import StreamOptions, secret_properties_file, split_secret_conf

    monkeypatch.setenv(clients.SECRETS_ENV, "")  # restored after the test: the job sets it for its workers
    options = StreamOptions(
        bootstrap="b:9096",
        lake_root="file:///tmp/lake",
        checkpoint_root="file:///tmp/checkpoints",
        kafka_security=from_env(scram_env(files, KAFKA_SASL_PASSWORD="pw-123")),
        extra_conf={"spark.authenticate": "true", "spark.authenticate.secret": "auth-456"},
    )
    python_source = options.source_options()
    assert python_source["kafka.sasl.mechanism"] == "SCRAM-SHA-512" and "pw-123" not in json.dumps(python_source)
    assert "pw-123" in options.source_options(native=True)["kafka.sasl.jaas.config"]
    public, secret = split_secret_conf(options)
    assert public == {"spark.authenticate": "true"}
    assert secret["spark.authenticate.secret"] == "auth-456"
    assert json.loads(secret[f"spark.executorEnv.{clients.SECRETS_ENV}"]) == {"sasl.password": "pw-123"}
    with secret_properties_file(secret):
        submit = os.environ["PYSPARK_SUBMIT_ARGS"]
        path = Path(submit.split()[1])
        assert submit.endswith("pyspark-shell") and "auth-456" not in submit
        assert path.stat().st_mode & 0o077 == 0 and "spark.authenticate.secret auth-456" in path.read_text()
    assert not path.exists() and "PYSPARK_SUBMIT_ARGS" not in os.environ


def test_refused_requests_name_the_topic_the_operation_and_the_principal(files: dict[str, str]) -> None:
    from confluent_kafka import KafkaError
    from kafka.errors import TopicAuthorizationFailedError

    from kafkaclient.access import topic_error

    security = from_env(scram_env(files))
    who = "b:9096 (SASL_SSL/SCRAM-SHA-512 as user alice)"
    assert topic_error(
        KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED), "vehicle_data", "write", "b:9096", security
    ) == (f"not authorized to write to topic vehicle_data at {who}: grant the ACL or use another principal")
    assert topic_error(TopicAuthorizationFailedError(), "gps_data", "read", "b:9096", security).startswith(
        f"not authorized to read from topic gps_data at {who}"
    )
    created = topic_error(KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED), "gps_data", "create", "b:9096", security)
    assert created.startswith(f"not authorized to create topic gps_data at {who}: the principal may not create topics")
    assert 'pa"ss' not in created


def test_oidc_from_a_properties_file_goes_to_librdkafka_and_leaves_the_java_login_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "oidc.properties"
    path.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\nsasl.oauthbearer.method=oidc\n"
        "sasl.oauthbearer.client.id=fleet\nsasl.oauthbearer.client.secret=s3\n"
        "sasl.login.callback.handler.class=org.example.Handler\n"
    )
    security = from_env({"KAFKA_CLIENT_PROPERTIES": str(path)})
    config = clients.confluent_config("b:9093", security)
    assert config["sasl.oauthbearer.method"] == "oidc" and "oauth_cb" not in config
    assert "s3" not in json.dumps(clients.source_options(security))
    native = clients.native_options(security)
    assert native["kafka.sasl.mechanism"] == "OAUTHBEARER"
    assert native["kafka.sasl.login.callback.handler.class"] == "org.example.Handler"
    assert not any(k.startswith("kafka.sasl.oauthbearer.") for k in native)
