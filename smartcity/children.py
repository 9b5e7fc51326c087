"""Child processes that run in a process group of their own and end with their parent."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def _term_with_parent() -> None:
    """Runs in the child between fork and exec: SIGTERM when the parent dies, even by SIGKILL
    (Linux; elsewhere the child outlives a killed parent, as any process does)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


PARENT_VARIABLE = "SMARTCITY_PARENT_PID"  # set for an isolated child: who it must not outlive


def isolated(env: dict[str, str] | None = None) -> dict:
    """``Popen`` arguments for a child of the orchestrator: a new session, so a terminal's Ctrl-C
    reaches only the orchestrator, which stops its children in order; a SIGTERM when the
    orchestrator dies, so a killed run leaves nothing running; and the orchestrator's pid in its
    environment (``env``, or this process's; see end_with_parent)."""
    import os

    return {
        "start_new_session": True,
        "preexec_fn": _term_with_parent,
        "env": {**(os.environ if env is None else env), PARENT_VARIABLE: str(os.getpid())},
    }


def end_with_parent(grace_s: float = 20.0) -> None:
    """In a child started ``isolated``: once the process that started it is gone (killed: its
    SIGTERM already asked for an orderly stop), allow ``grace_s`` for that stop, then end the
    whole process group (the Spark driver's JVM and its Python workers with it). Nobody waits for
    an orphan, and the checkpoints make a stop at any point safe."""
    import os
    import threading
    import time

    parent = os.getppid()
    if os.environ.get(PARENT_VARIABLE) != str(parent) or os.getpgrp() != os.getpid():
        return  # not started isolated by a process of ours (a shell, nohup, a service manager)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        time.sleep(grace_s)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()
