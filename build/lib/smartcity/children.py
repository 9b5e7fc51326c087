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


def isolated() -> dict:
    """``Popen`` arguments for a child of the orchestrator: a new session, so a terminal's Ctrl-C
    reaches only the orchestrator, which stops its children in order; and a SIGTERM when the
    orchestrator dies, so a killed run leaves nothing running."""
    return {"start_new_session": True, "preexec_fn": _term_with_parent}
