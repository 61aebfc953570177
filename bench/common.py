"""Helpers the benchmark scripts share: fresh forum instances outside the repository,
the ``flask`` commands run as an operator would, the machine description and percentiles.

Nothing here writes into the repository: instances live under ``bench/out/`` (git-ignored)
or a temporary folder.
"""
from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SHARED = ROOT.parent / "shared"
MAKE_CORPUS = SHARED / "bench" / "make_corpus.py"
PYTHON = sys.executable
FLASK = [PYTHON, "-m", "flask", "--app", "app"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def instance_env(directory: Path, database: str | None = None, backend: str = "whoosh") -> dict[str, str]:
    """Environment variables that point the app at its own instance folder (and its SQLite
    file, or ``database``) with the search ``backend``."""
    env = dict(os.environ)
    env.update(FORUM_INSTANCE_DIR=str(directory), FORUM_DATABASE_URL=database or f"sqlite:///{directory / 'forum.db'}",
               FORUM_SEARCH_DIR=str(directory / "search_index"), FORUM_SEARCH_BACKEND=backend)
    return env


def pg_database(url: str, name: str, create: bool = True) -> str:
    """The URL of database ``<database of url>_<name>`` on ``url``'s server (which need not
    exist itself), created empty (dropped first if it exists) unless ``create`` is false."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    target = base.set(database=f"{base.database}_{name}".replace("-", "_"))
    if create:
        engine = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        engine.dispose()
    return target.render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    engine.dispose()


def run(command: Sequence[str], env: dict[str, str] | None = None, quiet: bool = True) -> float:
    """Runs a command from the project root; returns its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run(list(command), cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE if quiet else None, stderr=subprocess.PIPE if quiet else None)
    if result.returncode != 0:
        sys.stderr.write((result.stdout or "") + (result.stderr or ""))
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")
    return time.perf_counter() - started


def fresh_instance(directory: Path, database: str | None = None, backend: str = "whoosh") -> dict[str, str]:
    """An empty instance folder (and ``database``, which must be empty) with the schema
    created; returns its environment."""
    if directory.exists():
        subprocess.run(["rm", "-rf", str(directory)], check=True)
    directory.mkdir(parents=True)
    env = instance_env(directory, database, backend)
    run([PYTHON, "-c", "from forum import create_app; from forum.extensions import db\n"
                       "app = create_app()\nwith app.app_context(): db.create_all()"], env)
    return env


def import_corpus(env: dict[str, str], path: Path) -> float:
    return run([*FLASK, "forum", "import", str(path)], env)


def reindex(env: dict[str, str]) -> float:
    return run([*FLASK, "search", "reindex"], env)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def index_size(env: dict[str, str]) -> int:
    """Bytes of the search index: the Whoosh folder, or the PostgreSQL backend's tables
    with their indexes."""
    if env.get("FORUM_SEARCH_BACKEND") != "postgres":
        return folder_size(Path(env["FORUM_SEARCH_DIR"]))
    from sqlalchemy import create_engine, text

    engine = create_engine(env["FORUM_DATABASE_URL"])
    with engine.connect() as conn:
        size = conn.scalar(text("SELECT pg_total_relation_size('search_documents')"
                                " + pg_total_relation_size('search_terms')"
                                " + pg_total_relation_size('search_scope_terms')"))
    engine.dispose()
    return int(size)


@contextlib.contextmanager
def app_for(directory: Path, database: str | None = None, backend: str = "whoosh") -> Iterator:
    """The forum app on ``directory``'s instance, inside a request context (the search
    service builds URLs)."""
    directory = directory.resolve()
    os.environ.update({k: v for k, v in instance_env(directory, database, backend).items() if k.startswith("FORUM_")})
    from forum import create_app

    app = create_app()
    with app.test_request_context("/"):
        yield app


def machine() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share 0.5 = median, 0.95 = p95)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
