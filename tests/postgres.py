"""A throw-away PostgreSQL cluster on a loopback port, with a password (scram-sha-256)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from servers import free_port


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's versioned folders."""
    found = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(found):
        return Path(found[0]).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all(os.access(Path(folder, tool), os.X_OK) for tool in ("initdb", "pg_ctl")):
            return Path(folder)
    return None


def _as_postgres(*command) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user then."""
    if os.geteuid() != 0:
        return [str(c) for c in command]
    return ["runuser", "-u", "postgres", "--", *map(str, command)]


def _run(command: list[str], what: str, timeout: float) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout}{done.stderr}"


@dataclass
class Postgres:
    port: int
    user: str
    password: str

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its URI, without the password."""
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
            connect_timeout=10,
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def postgres_cluster(folder: Path, password: str, user: str = "mlflow") -> Iterator[Postgres]:
    """initdb + pg_ctl start in ``folder`` (deleted afterwards); password auth only."""
    pg_bin = postgres_bin()
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, port, pwfile = folder / "data", free_port(), folder / "pwfile"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    pwfile.chmod(0o600)
    started = False
    try:
        _run(
            _as_postgres(
                pg_bin / "initdb",
                "-D",
                data,
                "-U",
                user,
                "--pwfile",
                pwfile,
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ),
            "initdb",
            60,
        )
        pwfile.unlink()
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        started = True  # pg_ctl may leave a server behind even when it fails
        _run(
            _as_postgres(
                pg_bin / "pg_ctl",
                "-D",
                data,
                "-l",
                folder / "server.log",
                "-w",
                "-t",
                "30",
                "-o",
                options,
                "start",
            ),
            "pg_ctl start",
            45,
        )
        yield Postgres(port, user, password)
    finally:
        try:
            if started and (data / "postmaster.pid").exists():
                _run(
                    _as_postgres(
                        pg_bin / "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "30", "stop"
                    ),
                    "pg_ctl stop",
                    45,
                )
        finally:
            shutil.rmtree(folder)
