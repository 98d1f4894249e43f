"""The ledger's baseline: pgbench's TPC-B-like run on the same PostgreSQL server."""

import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit


def database() -> str:
    """pgbench's own database, named after DATABASE_URL's so that concurrent runs
    against different databases (a bench run, the tiny test) do not drop each other's."""
    name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "moim"
    return f"{name}_pgbench"


def _connection_args() -> tuple[list[str], dict[str, str]]:
    url = urlsplit(os.environ["DATABASE_URL"])
    args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    args += ["-U", url.username or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def available() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    return shutil.which("pgbench") is not None and url.startswith(("postgres://", "postgresql://"))


def initialise(scale: int) -> None:
    args, env = _connection_args()
    subprocess.run(
        ["dropdb", *args, "--if-exists", database()], env=env, check=True, capture_output=True
    )
    subprocess.run(["createdb", *args, database()], env=env, check=True, capture_output=True)
    subprocess.run(
        ["pgbench", *args, "-i", "-q", "-s", str(scale), database()],
        env=env,
        check=True,
        capture_output=True,
    )


def tps(*, clients: int, seconds: int) -> float:
    """TPC-B-like transactions per second at ``clients`` connections (prepared statements)."""
    args, env = _connection_args()
    output = subprocess.run(
        [
            "pgbench",
            *args,
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(seconds),
            "-M",
            "prepared",
            "-n",
            database(),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    return float(match.group(1)) if match else 0.0
