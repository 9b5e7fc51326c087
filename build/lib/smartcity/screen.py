"""Lines for the person watching, on stderr, that never stop the program when nobody watches any more.

A terminal that closes (SIGHUP, an ssh session that drops: writes fail with EIO) or a pipe whose
reader died (``make stream | tee run.log`` stopped by Ctrl-C: EPIPE) must not interrupt a shutdown
half way. The first failed write marks the screen gone and points file descriptors 1 and 2 at
/dev/null, so nothing else that writes there (rich, logging, Python at exit) fails either; what
matters keeps going to the log files.
"""

from __future__ import annotations

import os
import sys
import threading

_lock = threading.Lock()
_gone = False


def gone() -> bool:
    return _gone


def write(line: str) -> bool:
    """Print ``line`` to stderr; False (and quiet from then on) when nobody can read it."""
    if _gone:
        return False
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # EPIPE, EIO; ValueError: stderr closed
        mark_gone()
        return False
    return True


def mark_gone() -> None:
    global _gone
    with _lock:
        if _gone:
            return
        _gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2):
                os.dup2(devnull, fd)
            os.close(devnull)
        except OSError:
            pass
