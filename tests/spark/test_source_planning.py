"""How the Python Kafka source cuts a micro-batch into tasks and caps it (no Spark needed)."""

from __future__ import annotations

import pytest

from spark.kafka_source import _limit_rows, plan_tasks
from spark.worker_python import clean_pythonpath


def covered(tasks) -> dict[str, list[tuple[int, int]]]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for task in tasks:
        for r in task.ranges:
            spans.setdefault(f"{r.topic}:{r.partition}", []).append((r.start, r.end))
    return {slot: sorted(s) for slot, s in spans.items()}


def test_every_offset_is_read_once_and_tasks_are_even() -> None:
    start = {"a:0": 100, "a:1": 0, "a:2": 50}
    end = {"a:0": 400, "a:1": 1000, "a:2": 50, "a:3": 7}  # a:2 has nothing new; a:3 is a new partition
    tasks = plan_tasks(start, end, max_records=10_000, min_tasks=4)
    assert len(tasks) == 4
    spans = covered(tasks)
    assert "a:2" not in spans
    for slot, stop in end.items():
        offsets = [o for lo, hi in spans.get(slot, []) for o in range(lo, hi)]
        assert offsets == list(range(start.get(slot, 0), stop)), slot
    sizes = [sum(r.end - r.start for r in t.ranges) for t in tasks]
    assert max(sizes) - min(sizes) <= 4
    assert sum(sizes) == 300 + 1000 + 7


def test_a_big_backlog_is_cut_at_max_records() -> None:
    tasks = plan_tasks({}, {"t:0": 1_000_000}, max_records=250_000, min_tasks=2)
    assert [sum(r.end - r.start for r in t.ranges) for t in tasks] == [250_000] * 4


@pytest.mark.parametrize("min_tasks", [1, 2, 8])
def test_no_task_is_empty(min_tasks: int) -> None:
    tasks = plan_tasks({"t:0": 5}, {"t:0": 8}, max_records=100, min_tasks=min_tasks)
    assert len(tasks) == min(3, min_tasks)
    assert all(t.ranges and all(r.end > r.start for r in t.ranges) for t in tasks)
    assert plan_tasks({"t:0": 8}, {"t:0": 8}, 100, 2) == []


def test_max_rows_is_shared_by_backlog_and_never_starves_a_partition() -> None:
    start = {"t:0": 0, "t:1": 0, "t:2": 10}
    end = {"t:0": 9000, "t:1": 1000, "t:2": 11}
    limited = _limit_rows(start, end, 1000)
    taken = {slot: limited[slot] - start.get(slot, 0) for slot in end}
    assert (taken["t:0"], taken["t:1"], taken["t:2"]) == (899, 99, 1)  # floor of the backlog share, at least 1
    assert len(end) <= sum(taken.values()) <= 1000
    assert all(start[s] <= limited[s] <= end[s] for s in end)
    assert _limit_rows(start, end, 100_000) == end


def test_worker_python_drops_only_the_zips_of_the_installed_pyspark(tmp_path) -> None:
    pyspark = tmp_path / "site-packages" / "pyspark"
    (pyspark / "python" / "lib").mkdir(parents=True)
    (pyspark / "__init__.py").write_text("")
    bundled = pyspark / "python" / "lib"
    other = tmp_path / "spark-home" / "python" / "lib" / "pyspark.zip"  # a real SPARK_HOME: kept
    path = f"{bundled}/pyspark.zip:{bundled}/py4j-0.10.9.9-src.zip:{other}:/opt/app"
    assert clean_pythonpath(path) == f"{other}:/opt/app"
