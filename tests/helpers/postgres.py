"""A throwaway PostgreSQL server on loopback (the Debian package's binaries), for the SQL catalog the
cluster deployment uses."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"))


def _as_postgres(*args: str) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the package's own user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A server with trust authentication on 127.0.0.1; yields the SQLAlchemy URL of its database.
    Its folder is its own (pytest's are private to the test's user, and the server runs as postgres)."""
    base = Path(tempfile.mkdtemp(prefix="smartcity-postgres-"))
    base.chmod(0o755)
    data, sockets = base / "pgdata", base / "pgsock"
    for folder in (data, sockets):
        folder.mkdir(parents=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(
        _as_postgres(str(BIN / "initdb"), "-D", str(data), "-U", "smartcity", "--auth=trust"),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(sockets / "log"), "-w", "start"),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://smartcity@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"), capture_output=True
        )
