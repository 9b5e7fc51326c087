"""A Kafka source for Structured Streaming written as a PySpark Python data source.

Used when Spark's own ``kafka`` connector is not on the classpath (it comes from Maven
Central). It reads explicit offset ranges (assign + seek, no consumer group), so the
offsets Spark stores in its checkpoint alone make the read exactly once. It produces the
same columns as the native connector: key, value, topic, partition, offset, timestamp.

Spark pickles the reader to its Python workers: Kafka clients are created lazily,
never in ``__init__``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, ReadMaxRows, SupportsTriggerAvailableNow

NAME = "smartcity_kafka"
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
    (spark/land.py), and the rows it returns describe the staged files."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        if self.options.get("landAs"):
            from spark.land import STAGED_DDL

            return STAGED_DDL
        return SCHEMA

    def streamReader(self, schema: object) -> KafkaStreamReader:
        return KafkaStreamReader(dict(self.options))


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, options: dict[str, str]) -> None:
        options = {k.lower(): v for k, v in options.items()}  # Spark's option names are case-insensitive
        self.bootstrap = options["kafka.bootstrap.servers"]
        self.topics = [t for t in options["subscribe"].split(",") if t]
        self.starting = options.get("startingoffsets", "earliest")
        limit = options.get("maxoffsetspertrigger")
        self.max_offsets = int(limit) if limit else None
        # As in Spark's kafka source: a batch becomes at least ``minPartitions`` tasks of at most
        # ``maxRecordsPerPartition`` records each, cut evenly, so a backlog keeps every core busy.
        self.min_tasks = int(options.get("minpartitions", 1))
        self.records_per_task = int(options.get("maxrecordsperpartition", 250_000))
        self.poll_timeout_s = float(options.get("polltimeoutseconds", 120))
        # With landAs=<stream> the records are parsed, validated and staged as Parquet right
        # here, in the Python worker that read them: they never cross into the JVM.
        self.land_as = options.get("landas")
        self.lake_root = options.get("lakeroot")
        if self.land_as and not self.lake_root:
            raise ValueError("option landAs needs lakeRoot")
        self._consumer = None
        self._available_now_end: dict[str, int] | None = None
        self._latest: dict[str, int] = {}

    # -- driver side ---------------------------------------------------------------------

    def _driver_consumer(self):
        if self._consumer is None:
            from confluent_kafka import Consumer

            self._consumer = Consumer(
                {
                    "bootstrap.servers": self.bootstrap,
                    "group.id": "smartcity-offsets-probe",
                    "enable.auto.commit": False,
                    "fetch.wait.max.ms": 20,
                    "enable.partition.eof": True,
                }
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

    def _end_offsets(self) -> dict[str, int]:
        """True end offsets. ListOffsets alone can be low (Tansu answers with the base offset of
        the last batch), so fetch from there: the fetch's high watermark and the last offset
        actually fetched are right. The end is the max of the three."""
        from confluent_kafka import KafkaError, TopicPartition

        consumer = self._driver_consumer()
        ends: dict[str, int] = {}
        assignment = []
        for topic, partition in self._partitions():
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            slot = _slot(topic, partition)
            ends[slot] = max(high, self._latest.get(slot, 0))
            assignment.append(TopicPartition(topic, partition, ends[slot]))
        consumer.assign(assignment)
        pending = set(ends)
        deadline = time.monotonic() + 2.0
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=0.05):
                slot = _slot(msg.topic(), msg.partition())
                err = msg.error()
                if err is None:
                    ends[slot] = max(ends[slot], msg.offset() + 1)
                elif err.code() == KafkaError._PARTITION_EOF:
                    ends[slot] = max(ends[slot], msg.offset())
                    pending.discard(slot)
            for slot in list(pending):
                topic, partition = _split_slot(slot)
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
                if high > ends[slot]:
                    ends[slot] = high
        consumer.unassign()
        self._latest = ends
        return ends

    def initialOffset(self) -> dict:
        if self.starting == "latest":
            return dict(self._end_offsets())
        from confluent_kafka import TopicPartition

        consumer = self._driver_consumer()
        return {
            _slot(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[0]
            for t, p in self._partitions()
        }

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.max_offsets) if self.max_offsets else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._available_now_end = dict(self._end_offsets())

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
        ends = self._available_now_end if self._available_now_end is not None else self._end_offsets()
        # Partitions added since the checkpoint start at 0; ends never move backwards.
        end = {slot: max(ends.get(slot, 0), start.get(slot, 0)) for slot in set(ends) | set(start)}
        if isinstance(limit, ReadMaxRows):
            end = _limit_rows(start, end, limit.max_rows)
        return end

    def reportLatestOffset(self) -> dict | None:
        return dict(self._latest) or None

    def partitions(self, start: dict, end: dict) -> list[RangeTask]:
        return plan_tasks(start, end, self.records_per_task, self.min_tasks)

    def commit(self, end: dict) -> None:
        """Nothing to do: progress lives in Spark's checkpoint, not in Kafka."""

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # -- executor side -------------------------------------------------------------------

    def read(self, partition: RangeTask) -> Iterator[pa.RecordBatch]:
        records = (batch for rng in partition.ranges for batch in read_range(self.bootstrap, rng, self.poll_timeout_s))
        if self.land_as:
            from spark.land import lander

            yield from lander(self.land_as, self.lake_root)(records)
        else:
            yield from records


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
    bootstrap: str, rng: OffsetRange, timeout_s: float = 120.0, batch_rows: int = 20_000
) -> Iterator[pa.RecordBatch]:
    """Read offsets [start, end) of one partition as Arrow batches; fail loudly if they never come."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "smartcity-range-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
            "queued.max.messages.kbytes": 262_144,
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 10_485_760,
        }
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
                    raise RuntimeError(f"Kafka error reading {rng}: {err}")
                offset = msg.offset()
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
