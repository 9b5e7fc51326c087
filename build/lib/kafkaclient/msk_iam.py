"""Amazon MSK IAM authentication: SASL/OAUTHBEARER tokens signed locally with the AWS default
credential chain (``aws-msk-iam-sasl-signer-python``; no AWS call is made to sign). A token lives 15
minutes; librdkafka asks for a new one at 80% of its lifetime, and the kafka-python provider below
renews it a minute before it expires."""

from __future__ import annotations

import threading
import time

from kafkaclient.settings import KafkaSettingsError

REFRESH_BEFORE_S = 60.0


def token(region: str) -> tuple[str, float]:
    """A signed token and when it expires (seconds since the epoch)."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError:
        raise KafkaSettingsError(
            "MSK IAM needs aws-msk-iam-sasl-signer-python: pip install 'smartcity[cloud]'"
        ) from None
    try:
        signed, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
    except Exception as exc:  # botocore: no credentials in the chain, an unreadable profile
        raise KafkaSettingsError(f"MSK IAM: cannot sign a token for {region}: {type(exc).__name__}: {exc}") from None
    return signed, expiry_ms / 1000.0


def token_seconds(region: str) -> tuple[str, float]:
    """confluent-kafka's ``oauth_cb``: (token, expiry in seconds since the epoch)."""
    return token(region)


def kafka_python_provider(region: str):
    """A kafka-python ``sasl_oauth_token_provider`` that reuses a token until a minute before it expires."""
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class MskIamTokenProvider(AbstractTokenProvider):
        def __init__(self) -> None:
            super().__init__()
            self._lock = threading.Lock()
            self._token: str | None = None
            self._expires = 0.0

        def token(self) -> str:
            with self._lock:
                if self._token is None or time.time() > self._expires - REFRESH_BEFORE_S:
                    self._token, self._expires = token(region)
                return self._token

    return MskIamTokenProvider()
