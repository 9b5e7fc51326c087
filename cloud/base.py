"""What every resource of a stack is: it reads what exists (normalised to the shape of ``desired``,
so that a plan is a comparison), says what it wants, and creates, updates or deletes itself. Every
resource carries the stack's tag, and ``down`` touches only tagged ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from cloud.stack import TAG_KEY, Stack

# The codes AWS answers a read of something that does not exist with (S3's HEAD has no body: "404"),
# a bucket's unset configuration included.
NOT_FOUND = frozenset(
    {
        "NoSuchEntity",
        "EntityNotFoundException",
        "ResourceNotFoundException",
        "404",
        "NoSuchBucket",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "NoSuchLifecycleConfiguration",
        "NoSuchTagSet",
    }
)


def is_missing(exc: ClientError) -> bool:
    """Whether an error says the resource does not exist, and nothing else. Athena answers a missing
    workgroup with InvalidRequestException ("WorkGroup x is not found"), the code it also uses for a
    malformed request: only its not-found message counts, so a bad request is never planned as a create."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code"), str(error.get("Message", ""))
    return code in NOT_FOUND or (code == "InvalidRequestException" and "not found" in message.lower())


T = TypeVar("T")


def unless_missing(read: Callable[[], T]) -> T | None:
    """``read()``, or None when AWS answers that the thing read does not exist (any other error is raised)."""
    try:
        return read()
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise


@dataclass
class Clients:
    """boto3 clients for one region; endpoints and credentials from the default chain
    (AWS_ENDPOINT_URL points every client at MinIO or moto)."""

    region: str
    _made: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str):
        if service not in self._made:
            import boto3

            self._made[service] = boto3.client(service, region_name=self.region)  # type: ignore[call-overload]
        return self._made[service]


class Resource:
    kind = "resource"

    def __init__(self, stack: Stack, clients: Clients, name: str) -> None:
        self.stack, self.aws, self.name = stack, clients, name

    def read(self) -> dict | None:
        raise NotImplementedError

    def desired(self) -> dict:
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def update(self) -> None:
        self.create()

    def delete(self) -> None:
        raise NotImplementedError

    def owned(self, current: dict) -> bool:
        return current.get("tags", {}).get(TAG_KEY) == self.stack.name

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"
