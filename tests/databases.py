"""One migrated template database per set of migrations, cloned for every test process.

Migrating takes several seconds; ``CREATE DATABASE … TEMPLATE`` a fraction of one. The first
process (of a run, or of any run since the migrations last changed) migrates
``test_<name>_template_<digest>`` under a file lock; every pytest-xdist worker then clones it
into its own database (``test_<name>_gw0`` …) and drops that clone when it ends. The digest
covers every migration file and the Django version, so a changed migration makes a new
template and the stale one is dropped.
"""

import fcntl
import hashlib
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import django
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def migrations_digest() -> str:
    digest = hashlib.sha1(django.get_version().encode(), usedforsecurity=False)
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@contextmanager
def _server_lock(base_name: str):
    """One process at a time creates or clones templates on this database server."""
    host = connection.settings_dict.get("HOST") or "local"
    port = connection.settings_dict.get("PORT") or "5432"
    path = Path(tempfile.gettempdir()) / f"tack-testdb-{host}-{port}-{base_name}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _existing(prefix: str) -> list[str]:
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"])
        return [row[0] for row in cursor.fetchall()]


def _make_template(template: str, stale: list[str]) -> None:
    with connection.creation._nodb_cursor() as cursor:
        for name in stale:
            cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)}")
    test_settings = connection.settings_dict.setdefault("TEST", {})
    target = test_settings.get("NAME")
    test_settings["NAME"] = template + "_partial"
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        _count_the_empty_rollups()
    finally:
        test_settings["NAME"] = target
    connection.close()
    # Renamed only once whole, so an interrupted migration never passes for a template.
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(
            f"ALTER DATABASE {_quote(template + '_partial')} RENAME TO {_quote(template)}"
        )


def _count_the_empty_rollups() -> None:
    """Bring the template's (empty) rollups up to date, as a deployed database's are: a
    test's first refresh then recounts the days its changes touched instead of rebuilding
    everything (a test that flushes the database rebuilds, as a new deployment does, and
    so does every test if the rollups' definitions changed since the template was made)."""
    from retention.services import rollups_refresh

    rollups_refresh()


_template: dict[str, str] = {}


def database_url(name: str | None = None) -> str:
    """The URL of database ``name`` (default: this process's test database) on the suite's
    PostgreSQL server, for a process or a tool outside this one."""
    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{name or database['NAME']}"
    )


def template_dump(pg_dump: str) -> bytes:
    """An SQL dump of the migrated template (made or found by ``clone_database``): for a
    test that needs a migrated database on a server of its own. Taken under the lock the
    clones are made under (a connection to the template stops ``CREATE DATABASE … TEMPLATE``)."""
    with _server_lock(_template["original"]):
        return subprocess.run(
            [pg_dump, "--no-owner", "--no-privileges", database_url(_template["name"])],
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout


def clone_database() -> tuple[str, str]:
    """Point the default connection at a fresh clone of the template; returns
    (original name, clone name) for ``drop_database``."""
    original = connection.settings_dict["NAME"]
    target = connection.creation._get_test_db_name()
    prefix = f"test_{original}_template_"
    template = prefix + migrations_digest()
    _template.update(name=template, original=original)
    with _server_lock(original):
        existing = _existing(prefix)
        if template not in existing:
            _make_template(template, stale=existing)
            connection.settings_dict["NAME"] = original
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {_quote(target)} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {_quote(target)} TEMPLATE {_quote(template)}")
            # A test database is thrown away: a commit need not wait for its WAL to reach
            # the disk (the answers are the same; only a crash of the server could lose the
            # last commits), and queries on a few rows are not worth compiling (JIT).
            for setting in ("synchronous_commit TO off", "jit TO off"):
                cursor.execute(f"ALTER DATABASE {_quote(target)} SET {setting}")
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = target
    connection.settings_dict["NAME"] = target
    return original, target


def drop_database(original: str, target: str) -> None:
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = original
    connection.settings_dict["NAME"] = original
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {_quote(target)} WITH (FORCE)")
