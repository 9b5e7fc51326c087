"""The one event contract shared by the simulator, the Spark job and the dbt sources."""

from contract.events import BY_NAME, EVENT_TYPES, EventType, Field, Version, topic_name
from contract.validate import ContractError, Validator, validator_for

__all__ = [
    "BY_NAME",
    "EVENT_TYPES",
    "ContractError",
    "EventType",
    "Field",
    "Validator",
    "Version",
    "topic_name",
    "validator_for",
]
