"""A real PostgreSQL for the tests: ``initdb`` in a temporary folder, listening on loopback
only, stopped (and the folder removed) at the end. Debian's ``postgresql`` package provides
it (``.ci/run`` installs it); without it the PostgreSQL tests are skipped, saying so.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
``postgres`` user the Debian package creates (else ``nobody``), in a folder it owns.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from serving import free_port

MISSING = ("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): the storage tests "
           "ran against SQLite only; install Debian's postgresql package (.ci/run does) to run them against PostgreSQL too")


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, newest version first; None when not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    return next((Path(f) for f in reversed(folders) if (Path(f) / "initdb").exists()), None)


def start_or_skip(**options) -> PostgresServer:
    """A started server, or the test skipped with :data:`MISSING` when PostgreSQL is not installed."""
    import pytest

    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(MISSING)
    return PostgresServer(bin_dir, **options).start()


class PostgresServer:
    """One throwaway cluster; :meth:`database` makes an empty database and gives its URL."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        """``durable``: commits wait for the disk, as in production (the benchmarks); the
        tests run without (fsync off), which changes no result, only the time."""
        self.bin = bin_dir
        self.durable = durable
        self.folder = Path(tempfile.mkdtemp(prefix="faqbot-pg-"))  # /tmp: reachable by the server's user
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres" if _has_user("postgres") else "nobody"
            owner = pwd.getpwnam(self.user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._names = itertools.count(1)

    def _run(self, *args: str) -> None:
        subprocess.run([str(self.bin / args[0]), *args[1:]], check=True, capture_output=True, user=self.user, cwd=self.folder)

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "faqbot", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60", "-o", options, "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "status"], capture_output=True,
                              user=self.user).returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://faqbot@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
