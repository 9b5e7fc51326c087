"""A Kafka source for Structured Streaming written as a PySpark Python data source.

Used when Spark's own ``kafka`` connector is not on the classpath (it comes from Maven
Central). It reads explicit offset ranges (assign + seek, no consumer group), so the
offsets Spark stores in its checkpoint alone make the read exactly once. It produces the
same columns as the native connector: key, value, topic, partition, offset, timestamp.

When the checkpoint and the broker disagree (a topic re-created or a broker's state lost, so
its offsets moved back; records deleted by retention before they were read; a partition gone)
the source does what Spark's kafka source does with ``failOnDataLoss``: by default the query
fails with one line naming topic, partition and offsets (``DataLoss``); with
``failOnDataLoss=false`` it warns, records the gap in the lake's metrics file and goes on from
the earliest offset the broker still has. Offsets carry the topics' ids, so a re-created topic
is recognised even once it has grown past the checkpoint's offsets.

Spark pickles the reader to its Python workers: Kafka clients are created lazily,
never in ``__init__``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, ReadMaxRows, SupportsTriggerAvailableNow

from contract import lake, metrics
from contract.metrics import OffsetGap
from kafkaclient.access import KafkaAccessError, group_error, topic_error
from kafkaclient.clients import confluent_config, from_source_options
from kafkaclient.settings import PLAINTEXT, KafkaSecurity

log = logging.getLogger("smartcity.stream")

NAME = "smartcity_kafka"
# The tasks' consumers read assigned offsets and commit nothing, but librdkafka still asks for this
# group's coordinator: a secured cluster must grant the job's principal READ on it.
READER_GROUP = "smartcity-range-reader"
# librdkafka prints every failed connection attempt to stderr (dozens a second while a broker is down).
# A broker that stays away fails the query, which reports it in one line; retries it survives need no noise.
QUIET = {"log_level": 2}
# How long the driver keeps retrying a broker that went away (a restart) before the query fails
# (option brokerRetrySeconds).
BROKER_RETRY_S = 30.0


def _transient(exc: Exception) -> bool:
    """A KafkaException that a new connection may cure: the broker is down, restarting or slow."""
    from confluent_kafka import KafkaError

    error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    if error is None:
        return False
    codes = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT, KafkaError._DESTROY_BROKER}
    # A restarted broker answers before its topics are back: the partitions are unknown for a moment.
    codes |= {KafkaError._DESTROY, KafkaError._RESOLVE, KafkaError._UNKNOWN_PARTITION, KafkaError._UNKNOWN_TOPIC}
    codes |= {KafkaError.UNKNOWN_TOPIC_OR_PART}
    return error.code() in codes or error.retriable()


SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
RECORD_SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
    ]
)


def _slot(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def _split_slot(slot: str) -> tuple[str, int]:
    topic, _, partition = slot.rpartition(":")
    return topic, int(partition)


class DataLoss(RuntimeError):
    """Offsets the checkpoint expects to read are no longer in the broker."""


@dataclass(frozen=True)
class Offsets:
    """A source offset as Spark stores it in the checkpoint: the next offset to read per
    ``topic:partition``, the id of each topic, and, on the batch that follows a reset, where its
    partitions start instead (``origin``: the batch's start offsets are the checkpoint's)."""

    offsets: dict[str, int]
    topic_ids: dict[str, str] = field(default_factory=dict)
    origin: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, value: dict | None) -> Offsets:
        value = value or {}
        if "offsets" not in value:  # a checkpoint written before topic ids were kept
            return cls({k: int(v) for k, v in value.items()})
        return cls(value["offsets"], value.get("topic_ids", {}), value.get("origin", {}))

    def dump(self) -> dict:
        # Sorted: Spark compares offsets as JSON text to decide whether there is new data.
        out: dict = {"offsets": dict(sorted(self.offsets.items())), "topic_ids": dict(sorted(self.topic_ids.items()))}
        if self.origin:
            out["origin"] = dict(sorted(self.origin.items()))
        return out


@dataclass(frozen=True)
class BrokerView:
    """What the broker holds now: per ``topic:partition`` the earliest and end offsets, per topic its id."""

    earliest: dict[str, int]
    end: dict[str, int]
    topic_ids: dict[str, str]


def reconcile(start: Offsets, broker: BrokerView) -> tuple[dict[str, int], list[OffsetGap]]:
    """Where each partition's next batch starts when that is not the checkpoint's offset, and the
    gaps: partitions whose checkpointed offset the broker can no longer serve. A new partition
    is normal and starts at its earliest offset."""
    origin: dict[str, int] = {}
    gaps: list[OffsetGap] = []
    for slot, offset in sorted(start.offsets.items()):
        topic, partition = _split_slot(slot)
        earliest, end = broker.earliest.get(slot), broker.end.get(slot)
        old_id, new_id = start.topic_ids.get(topic), broker.topic_ids.get(topic)
        if end is None:
            cause, lost = "partition no longer exists", None
        elif old_id and new_id and old_id != new_id:
            cause, lost = "topic re-created", None
        elif offset > end:
            cause, lost = "offsets moved back: broker state lost or topic re-created", None
        elif earliest is not None and offset < earliest:
            cause, lost = "records deleted before they were read", earliest - offset
        else:
            continue
        gaps.append(OffsetGap(topic, partition, offset, earliest, end, cause, lost))
        if end is not None and earliest is not None:
            origin[slot] = earliest
    for slot in broker.end:
        if slot not in start.offsets:
            origin[slot] = broker.earliest[slot]
    return origin, gaps


def _summary(gaps: list[OffsetGap]) -> str:
    """The gap with the most offsets behind it, and how many more there are."""
    worst = max(gaps, key=lambda g: g.checkpoint_offset)
    return worst.describe() + (f" (and {len(gaps) - 1} more partitions)" if len(gaps) > 1 else "")


def data_loss_message(gaps: list[OffsetGap]) -> str:
    return (
        f"{_summary(gaps)}. Run with --no-fail-on-data-loss to continue from the earliest "
        "available offsets, or start over with a new checkpoint folder"
    )


@dataclass(frozen=True)
class OffsetRange:
    topic: str
    partition: int
    start: int  # inclusive
    end: int  # exclusive


@dataclass(frozen=True)
class RangeTask(InputPartition):
    """The offset ranges one Spark task reads: small ranges are packed together (fewer, larger
    files per micro-batch), big ones are split (a backlog is read in parallel)."""

    ranges: tuple[OffsetRange, ...]


class KafkaOffsetsDataSource(DataSource):
    """``spark.readStream.format("smartcity_kafka")`` with the options of Spark's kafka source:
    ``kafka.bootstrap.servers``, ``subscribe``, ``startingOffsets``, ``maxOffsetsPerTrigger``,
    ``minPartitions``, ``maxRecordsPerPartition``; plus ``landAs`` (a contract stream name) and
    ``lakeRoot``: each task then parses its records and stages them as Parquet in the lake
    (spark/stage.py), and the rows it returns describe the staged files. Security settings are
    librdkafka properties behind ``kafka.`` (``kafka.security.protocol``, ``kafka.ssl.ca.location``,
    ``kafka.sasl.mechanism``, ...); secrets never travel as options (see kafkaclient.clients)."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        if self.options.get("landAs"):
            from spark.stage import STAGED_DDL

            return STAGED_DDL
        return SCHEMA

    def streamReader(self, schema: object) -> KafkaStreamReader:
        return KafkaStreamReader(dict(self.options))


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, options: dict[str, str]) -> None:
        options = {k.lower(): v for k, v in options.items()}  # Spark's option names are case-insensitive
        self.bootstrap = options["kafka.bootstrap.servers"]
        # Kept as options, not as settings: the reader is pickled to the tasks, and the secrets must
        # come from each process's own environment rather than travel inside it.
        self.kafka_options = {k: v for k, v in options.items() if k.startswith("kafka.")}
        self.topics = [t for t in options["subscribe"].split(",") if t]
        self.starting = options.get("startingoffsets", "earliest")
        limit = options.get("maxoffsetspertrigger")
        self.max_offsets = int(limit) if limit else None
        # As in Spark's kafka source: a batch becomes at least ``minPartitions`` tasks of at most
        # ``maxRecordsPerPartition`` records each, cut evenly, so a backlog keeps every core busy.
        self.min_tasks = int(options.get("minpartitions", 1))
        self.records_per_task = int(options.get("maxrecordsperpartition", 250_000))
        self.poll_timeout_s = float(options.get("polltimeoutseconds", 120))
        self.broker_retry_s = float(options.get("brokerretryseconds", BROKER_RETRY_S))
        # With landAs=<stream> the records are parsed, validated and staged as Parquet right
        # here, in the Python worker that read them: they never cross into the JVM.
        self.land_as = options.get("landas")
        self.lake_root = options.get("lakeroot")
        local_metrics = lake.metrics_path(self.lake_root) if self.lake_root else None
        self.metrics_file: str | None = options.get("metricsfile") or (str(local_metrics) if local_metrics else None)
        if self.land_as and not self.lake_root:
            raise ValueError("option landAs needs lakeRoot")
        self.fail_on_data_loss = options.get("failondataloss", "true").lower() != "false"
        self.bounds = _event_time_bounds(options)
        self._consumer: Any = None
        self._admin: Any = None
        self._available_now_end: dict[str, int] | None = None
        self._latest: BrokerView | None = None
        self._reported: set[tuple] = set()

    def security(self) -> KafkaSecurity:
        return from_source_options(self.kafka_options)

    # -- driver side ---------------------------------------------------------------------

    def _driver_consumer(self):
        if self._consumer is None:
            from confluent_kafka import Consumer

            self._consumer = Consumer(
                confluent_config(
                    self.bootstrap,
                    self.security(),
                    **{
                        "group.id": "smartcity-offsets-probe",
                        "enable.auto.commit": False,
                        "fetch.wait.max.ms": 20,
                        "enable.partition.eof": True,
                    },
                    **QUIET,
                )
            )
        return self._consumer

    def _partitions(self) -> list[tuple[str, int]]:
        metadata = self._driver_consumer().list_topics(timeout=10)
        found = []
        for topic in self.topics:
            meta = metadata.topics.get(topic)
            if meta is None or meta.error is not None:
                raise RuntimeError(f"Kafka topic {topic!r} does not exist at {self.bootstrap}; create it first")
            found += [(topic, p) for p in sorted(meta.partitions)]
        return found

    def _topic_ids(self) -> dict[str, str]:
        from concurrent.futures import TimeoutError as FutureTimeout

        from confluent_kafka import KafkaError, KafkaException, TopicCollection
        from confluent_kafka.admin import AdminClient

        if self._admin is None:
            self._admin = AdminClient(confluent_config(self.bootstrap, self.security(), **QUIET))
        ids = {}
        for topic, future in self._admin.describe_topics(TopicCollection(self.topics)).items():
            try:
                topic_id = str(future.result(timeout=10).topic_id)
            except FutureTimeout:  # the admin client's request got no answer: a broker away, as librdkafka says it
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "DescribeTopics: no answer in 10 s")) from None
            if topic_id.strip("A=") and topic_id != "None":  # the all-zero id: broker keeps none
                ids[topic] = topic_id
        return ids

    def _with_broker_retry(self, read):
        """``read()``, again with new clients while the broker is briefly away (a restart drops every
        connection, and librdkafka's handles can come back destroyed); the error after ``broker_retry_s``."""
        from confluent_kafka import KafkaException

        deadline = time.monotonic() + self.broker_retry_s
        while True:
            try:
                return read()
            except KafkaException as exc:
                if not _transient(exc) or time.monotonic() > deadline:
                    raise
                log.warning("Kafka at %s did not answer (%s); retrying with new clients", self.bootstrap, exc)
                if self._consumer is not None:
                    with contextlib.suppress(Exception):
                        self._consumer.close()
                self._consumer = self._admin = None
                time.sleep(1.0)

    def _broker_view(self) -> BrokerView:
        return self._with_broker_retry(self._read_broker_view)

    def _read_broker_view(self) -> BrokerView:
        """Earliest and end offsets (ListOffsets), and topic ids."""
        from confluent_kafka import TopicPartition

        consumer = self._driver_consumer()
        earliest: dict[str, int] = {}
        ends: dict[str, int] = {}
        for topic, partition in self._partitions():
            slot = _slot(topic, partition)
            earliest[slot], ends[slot] = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        self._latest = BrokerView(earliest, ends, self._topic_ids())
        return self._latest

    def initialOffset(self) -> dict:
        view = self._broker_view()
        return Offsets(dict(view.end if self.starting == "latest" else view.earliest), view.topic_ids).dump()

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.max_offsets) if self.max_offsets else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._available_now_end = dict(self._broker_view().end)

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
        checkpoint = Offsets.load(start)
        view = self._broker_view()
        origin, gaps = reconcile(checkpoint, view)
        if gaps:
            self._data_loss(gaps)
        first = {**checkpoint.offsets, **origin}
        ends = self._available_now_end if self._available_now_end is not None else view.end
        # Only the partitions the broker has; an end never before its batch's first offset.
        end = {slot: max(ends.get(slot, 0), first[slot]) for slot in view.end}
        if isinstance(limit, ReadMaxRows):
            end = _limit_rows(first, end, limit.max_rows)
        return Offsets(end, view.topic_ids, {s: o for s, o in origin.items() if o != end[s]}).dump()

    def _data_loss(self, gaps: list[OffsetGap]) -> None:
        if self.fail_on_data_loss:
            raise DataLoss(data_loss_message(gaps))
        fresh = [g for g in gaps if (g.topic, g.partition, g.checkpoint_offset) not in self._reported]
        self._reported.update((g.topic, g.partition, g.checkpoint_offset) for g in fresh)
        if fresh:
            report_gaps(fresh, self.land_as, self.metrics_file, "continued from the earliest available offset")

    def reportLatestOffset(self) -> dict | None:
        return Offsets(dict(self._latest.end), self._latest.topic_ids).dump() if self._latest else None

    def partitions(self, start: dict, end: dict) -> list[RangeTask]:
        last = Offsets.load(end)
        first = {**Offsets.load(start).offsets, **last.origin}
        planned = last.offsets
        if last.topic_ids:
            # A batch Spark replays after a restart was planned against the topics of that time: if
            # one has been re-created since, its offsets name other records, or none. Skip them (the
            # next batch starts over at the new topic's earliest offset) and say so.
            now = self._with_broker_retry(self._topic_ids)
            moved = {t for t, topic_id in last.topic_ids.items() if now.get(t) not in (None, topic_id)}
            gaps = [
                OffsetGap(t, p, first.get(slot, 0), None, None, "topic re-created before a planned batch was read", n)
                for slot, stop in sorted(planned.items())
                for t, p in [_split_slot(slot)]
                if t in moved and (n := stop - first.get(slot, 0)) > 0
            ]
            if gaps:
                self._data_loss(gaps)
            planned = {slot: stop for slot, stop in planned.items() if _split_slot(slot)[0] not in moved}
        return plan_tasks(first, planned, self.records_per_task, self.min_tasks)

    def commit(self, end: dict) -> None:
        """Nothing to do: progress lives in Spark's checkpoint, not in Kafka."""

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._admin = None

    # -- executor side -------------------------------------------------------------------

    def read(self, partition: RangeTask) -> Iterator[pa.RecordBatch]:
        def on_gap(gap: OffsetGap) -> None:
            report_gaps([gap], self.land_as, self.metrics_file, "skipped offsets no longer in the broker")

        security = self.security()
        records = (
            batch
            for rng in partition.ranges
            for batch in read_range(
                self.bootstrap,
                rng,
                self.poll_timeout_s,
                on_gap=None if self.fail_on_data_loss else on_gap,
                security=security,
            )
        )
        if self.land_as:
            from spark.stage import stager

            yield from stager(self.land_as, self.lake_root or "", self.bounds)(records)
        else:
            yield from records


def _event_time_bounds(options: dict[str, str]):
    from datetime import datetime, timedelta

    from spark.parse import EventTimeBounds

    default = EventTimeBounds()
    floor = options.get("eventtimefloor")
    ahead = options.get("maxeventtimeaheadseconds")
    return EventTimeBounds(
        floor=datetime.fromisoformat(floor) if floor else default.floor,
        max_ahead=timedelta(seconds=float(ahead)) if ahead else default.max_ahead,
    )


def data_loss_line(gaps: list[OffsetGap], action: str) -> str:
    return f"WARN smartcity: data loss: {_summary(gaps)}; {action}"


def report_gaps(gaps: list[OffsetGap], stream: str | None, metrics_file: str | None, action: str) -> None:
    """A counted warning: one line to stderr (the job's log) and, for a local lake, one row per
    partition in its metrics file."""
    from datetime import UTC, datetime

    print(data_loss_line(gaps, action), file=sys.stderr, flush=True)
    if metrics_file:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        for gap in gaps:
            metrics.append(metrics_file, metrics.DataLossRow(at=at, stream=stream, action=action, **gap.as_dict()))


def plan_tasks(start: dict, end: dict, max_records: int, min_tasks: int = 1) -> list[RangeTask]:
    """Cut the offset ranges of a batch into tasks of even size: contiguous runs of offsets, a
    partition's range split where a task fills up, small ranges packed into one task. Each task
    holds at most ``max_records`` records, and there are at least ``min_tasks`` of them (if the
    batch has that many records)."""
    ranges = [(slot, start.get(slot, 0), stop) for slot, stop in sorted(end.items()) if stop > start.get(slot, 0)]
    total = sum(hi - lo for _, lo, hi in ranges)
    if total == 0:
        return []
    n_tasks = min(total, max(min_tasks, -(-total // max_records)))
    size = -(-total // n_tasks)
    tasks: list[RangeTask] = []
    current: list[OffsetRange] = []
    room = size
    for slot, lo, hi in ranges:
        topic, partition = _split_slot(slot)
        while lo < hi:
            take = min(room, hi - lo)
            current.append(OffsetRange(topic, partition, lo, lo + take))
            lo += take
            room -= take
            if room == 0:
                tasks.append(RangeTask(tuple(current)))
                current, room = [], size
    if current:
        tasks.append(RangeTask(tuple(current)))
    return tasks


def _limit_rows(start: dict, end: dict, max_rows: int) -> dict:
    """Share ``max_rows`` across partitions in proportion to their backlog."""
    backlog = {slot: end[slot] - start.get(slot, 0) for slot in end}
    total = sum(backlog.values())
    if total <= max_rows:
        return end
    limited = {}
    for slot, n in backlog.items():
        take = n * max_rows // total
        limited[slot] = start.get(slot, 0) + max(take, min(n, 1))
    return limited


def read_range(
    bootstrap: str,
    rng: OffsetRange,
    timeout_s: float = 120.0,
    batch_rows: int = 20_000,
    on_gap: Callable[[OffsetGap], None] | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> Iterator[pa.RecordBatch]:
    """Read offsets [start, end) of one partition as Arrow batches; fail loudly if they never come.

    Offsets that were planned but are gone when read (retention, a re-created topic) raise
    ``DataLoss``, or, with ``on_gap``, are reported and skipped."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        confluent_config(
            bootstrap,
            security,
            **{
                "group.id": READER_GROUP,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 50,
                "queued.max.messages.kbytes": 262_144,
                "fetch.max.bytes": 52_428_800,
                "max.partition.fetch.bytes": 10_485_760,
                "auto.offset.reset": "error",  # never jump silently over offsets that are gone
            },
            **QUIET,
        )
    )
    try:
        consumer.assign([TopicPartition(rng.topic, rng.partition, rng.start)])
        position, last_progress = rng.start, time.monotonic()
        keys, values, offsets, stamps = [], [], [], []
        while position < rng.end:
            messages = consumer.consume(num_messages=min(rng.end - position, 50_000), timeout=0.5)
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    if err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                        raise KafkaAccessError(topic_error(err, rng.topic, "read", bootstrap, security))
                    if err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
                        raise KafkaAccessError(group_error(err, READER_GROUP, bootstrap, security))
                    if err.code() not in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE):
                        raise RuntimeError(f"Kafka error reading {rng}: {err}")
                    position = _skip_gap(consumer, rng, position, on_gap)
                    last_progress = time.monotonic()
                    break
                offset: int = msg.offset()  # type: ignore[assignment]  # set on every message without an error
                if offset < position:
                    continue
                if offset >= rng.end:
                    position = rng.end
                    break
                keys.append(msg.key())
                values.append(msg.value())
                offsets.append(offset)
                stamps.append(msg.timestamp()[1] * 1000)
                position = offset + 1
            if messages:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > timeout_s:
                raise TimeoutError(
                    f"offsets {position}..{rng.end} of {rng.topic}/{rng.partition} not readable within {timeout_s:.0f}s"
                )
            if len(offsets) >= batch_rows or (position >= rng.end and offsets):
                yield _batch(rng, keys, values, offsets, stamps)
                keys, values, offsets, stamps = [], [], [], []
    finally:
        consumer.close()


def _log_bounds(consumer, rng: OffsetRange) -> tuple[int, int]:
    """Earliest and end offset of the partition (ListOffsets)."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    tp = TopicPartition(rng.topic, rng.partition)
    try:
        low, high = consumer.get_watermark_offsets(tp, timeout=10)
    except KafkaException as exc:
        if exc.args[0].code() in (KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART):
            return 0, 0  # the partition is gone from the broker (re-created topic, restarted broker): empty
        raise
    return low, high


def _skip_gap(consumer, rng: OffsetRange, position: int, on_gap: Callable[[OffsetGap], None] | None) -> int:
    """The offset to go on reading from after ``position`` turned out to be gone."""
    from confluent_kafka import TopicPartition

    low, high = _log_bounds(consumer, rng)
    resume = low if position < low else rng.end  # below the log start: retention; above its end: re-created
    gap = OffsetGap(
        rng.topic,
        rng.partition,
        position,
        low,
        high,
        "offsets gone while the batch read them",
        min(resume, rng.end) - position,
    )
    if on_gap is None:
        raise DataLoss(data_loss_message([gap]))
    on_gap(gap)
    resume = min(resume, rng.end)
    if resume < rng.end:
        consumer.assign([TopicPartition(rng.topic, rng.partition, resume)])
    return resume


def _batch(rng: OffsetRange, keys: list, values: list, offsets: list, stamps: list) -> pa.RecordBatch:
    n = len(offsets)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(keys, pa.binary()),
            pa.array(values, pa.binary()),
            pa.array([rng.topic] * n, pa.string()),
            pa.array([rng.partition] * n, pa.int32()),
            pa.array(offsets, pa.int64()),
            pa.array(stamps, pa.timestamp("us", tz="UTC")),
        ],
        schema=RECORD_SCHEMA,
    )
