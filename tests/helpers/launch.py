"""Starting and killing the project's processes as users and failures do: each command in a process
group of its own (as a terminal runs it), killed as a group, and nothing left behind by a test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.cli import command, environment


class Launcher:
    """The `launch` fixture: every process it started is killed (group and all) at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, *args: str, data_dir: Path | None = None, log: Path | None = None, **env: str) -> subprocess.Popen:
        """`smartcity <args>` in the background; its output to ``log`` (appended) or nowhere."""
        out = log.open("ab") if log else subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                command(*args),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment(data_dir, **env),
                start_new_session=True,
            )
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
        self.started.append(process)
        return process

    def run(
        self, *args: str, data_dir: Path | None = None, timeout: float = 300, **env: str
    ) -> subprocess.CompletedProcess:
        """`smartcity <args>` to its end, output captured as text."""
        return subprocess.run(
            command(*args), capture_output=True, text=True, timeout=timeout, env=environment(data_dir, **env)
        )

    def drain(self, bootstrap: str, data_dir: Path, prefix: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        """`smartcity stream --available-now`: the job lands what the topics hold, then ends."""
        return self.run(
            "stream", "--bootstrap", bootstrap, "--available-now", *args,
            data_dir=data_dir, SMARTCITY_TOPIC_PREFIX=prefix, **env,
        )  # fmt: skip

    @staticmethod
    def signal_group(process: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    def kill(self, process: subprocess.Popen, timeout_s: float = 30) -> None:
        """SIGKILL the process and everything in its group (the driver's JVM, its Python workers)."""
        self.signal_group(process, signal.SIGKILL)
        process.wait(timeout_s)

    @staticmethod
    def wait_until(
        process: subprocess.Popen, ready: Callable[[], bool], timeout_s: float = 240, what: str = "the moment"
    ) -> None:
        """Poll ``ready`` until it holds; fail if the process ends first or it never comes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            assert process.poll() is None, f"the process ended (code {process.returncode}) before {what}"
            time.sleep(0.02)
        pytest.fail(f"{what} did not come within {timeout_s:.0f} s")

    def kill_when(
        self, process: subprocess.Popen, ready: Callable[[], bool], timeout_s: float = 240, what: str = "the moment"
    ) -> None:
        """SIGKILL the group as soon as ``ready`` holds."""
        self.wait_until(process, ready, timeout_s, what)
        self.kill(process)

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                self.signal_group(process, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(30)
