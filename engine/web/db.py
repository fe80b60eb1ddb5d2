"""Storage for the web application: SQLAlchemy Core tables, and a versioned schema that the app
upgrades itself on start (no Alembic: one ordered list of migration functions is all we need).

Why Core and not the ORM: every write here is one short transaction whose locking matters more
than object mapping (an answer must never be lost between two concurrent saves), and Core keeps
that visible. SQLite is the default (nothing to install); PostgreSQL by URL.

SQLite is opened in WAL mode with `synchronous=FULL` and every transaction begins IMMEDIATE, so two
writers never race from a shared read snapshot into SQLITE_BUSY (which would drop an answer); a
busy connection waits up to 30 s for the lock. PostgreSQL serialises writers on the same response
with `SELECT … FOR UPDATE`.

No table holds personal data: no IP address, no user agent, no e-mail, and responses carry no
timestamps (a time of answering could tie an answer to a person). Tables share a `pdx_` prefix so
that the database can be shared with other applications.
"""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import (Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, create_engine, event, select, text)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from ..errors import InputError, Problem

metadata = MetaData()

meta = Table(
    "pdx_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
users = Table(
    "pdx_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
)
# Failed sign-ins, per account name (existing or not): never per IP address, which we do not store.
throttle = Table(
    "pdx_login_throttle", metadata,
    Column("name", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("not_before", Float, nullable=False),
    Column("last", Float, nullable=False),
)
# Facilitators' sign-in sessions (browser cookie or API bearer token); only a hash of the secret.
sessions = Table(
    "pdx_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("pdx_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),
    Column("expires", Float, nullable=False),
)
assessments = Table(
    "pdx_assessments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", Integer, ForeignKey("pdx_users.id"), nullable=False, index=True),
    Column("partnership", String(200), nullable=False),
    Column("scope", String(32), nullable=False),
    Column("min_group", Integer, nullable=False),
    Column("gap", Float, nullable=False),
    Column("show_individual", Boolean, nullable=False),
    Column("created", Float, nullable=False),
)
rounds = Table(
    "pdx_rounds", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assessment_id", Integer, ForeignKey("pdx_assessments.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("closed", Boolean, nullable=False, default=False),
    UniqueConstraint("assessment_id", "number"),
)
invitations = Table(
    "pdx_invitations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("round_id", Integer, ForeignKey("pdx_rounds.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("organisation", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("token", String(64), nullable=False, unique=True),
)
# A response is known only by the hash of the random key in its respondent's cookie.
responses = Table(
    "pdx_responses", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("invitation_id", Integer, ForeignKey("pdx_invitations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("submitted", Boolean, nullable=False, default=False),
)
# One row per answered (or skipped: value NULL) item; `seq` orders them for "back".
answers = Table(
    "pdx_answers", metadata,
    Column("response_id", Integer, ForeignKey("pdx_responses.id", ondelete="CASCADE"), primary_key=True),
    Column("item", String(64), primary_key=True),
    Column("value", Text, nullable=True),
    Column("seq", Integer, nullable=False),
)

# Co-facilitators: accounts that may see and run an assessment besides its owner.
members = Table(
    "pdx_members", metadata,
    Column("assessment_id", Integer, ForeignKey("pdx_assessments.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("pdx_users.id", ondelete="CASCADE"), primary_key=True),
)
# What facilitators did (who, what, when): never anything about respondents.
audit = Table(
    "pdx_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("user_name", String(64), nullable=False),
    Column("assessment_id", Integer, nullable=True, index=True),
    Column("action", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
# One-time form tokens: a form submitted twice does its action once (the second gets the first's result).
form_tokens = Table(
    "pdx_form_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("result", Text, nullable=True),
    Column("created", Float, nullable=False),
)

# Archived assessments: hidden from the list, answers frozen, deleted `keep_days` after archiving (0: kept).
archived = Table(
    "pdx_archived", metadata,
    Column("assessment_id", Integer, ForeignKey("pdx_assessments.id", ondelete="CASCADE"), primary_key=True),
    Column("archived_at", Float, nullable=False),
    Column("keep_days", Integer, nullable=False),
)


# ---- migrations ---------------------------------------------------------------------------------
# Append a function to change the schema; never edit one that has shipped. The version stored in
# pdx_meta is the number of migrations applied.

V1_TABLES = [users, throttle, sessions, assessments, rounds, invitations, responses, answers]


def _v1(conn: Connection) -> None:
    """The first schema, and the secret that signs CSRF tokens (shared by every server process)."""
    metadata.create_all(conn, tables=V1_TABLES)
    conn.execute(meta.insert().values(key="secret_key", value=secrets.token_hex(32)))


def _v2(conn: Connection) -> None:
    """The facilitator's console: co-facilitators, the audit log, one-time form tokens."""
    metadata.create_all(conn, tables=[members, audit, form_tokens, archived])


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2]
LATEST = len(MIGRATIONS)


class SchemaTooNew(Exception):
    pass


# ---- connecting ---------------------------------------------------------------------------------

def default_url() -> str:
    """SQLite in the user's data directory (PARTNERDX_HOME, else XDG), like saved sessions."""
    from ..sessions import home
    folder = home()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'partnerdx.db'}"


def normalise_url(url: str) -> str:
    """Accept the URLs people write (postgresql://, postgres://) and pick the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _problem(url: str, message: str) -> InputError:
    shown = url.split("@")[-1] if "@" in url else url          # never echo a password
    return InputError([Problem("--db", None, shown, message)])


def open_engine(url: str | None) -> Engine:
    """An Engine for the URL (default: SQLite in the data directory); InputError on a bad URL."""
    raw = url or default_url()
    full = normalise_url(raw)
    try:
        parsed = make_url(full)
    except ArgumentError:
        raise _problem(raw, "not a database URL; use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise _problem(raw, "an SQLite database must be a file (sqlite:///PATH)")
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_events(engine)
        return engine
    if backend == "postgresql":
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
        except (NoSuchModuleError, ImportError):
            raise _problem(raw, "PostgreSQL needs psycopg 3 (pip install 'psycopg[binary]')") from None
    raise _problem(raw, f"unsupported database {backend!r}; use sqlite:///PATH or postgresql://…")


def _sqlite_events(engine: Engine) -> None:
    """WAL, full durability, foreign keys; and BEGIN IMMEDIATE instead of pysqlite's own
    transaction handling (SQLAlchemy's documented recipe), so writers queue instead of failing."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine plus what differs between SQLite and PostgreSQL."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        self.engine = open_engine(self.url)
        self.dialect = self.engine.dialect.name

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any error."""
        with self.engine.begin() as conn:
            yield conn

    def upgrade(self) -> int:
        """Bring the schema to LATEST; returns the version found before. Concurrent starters are
        serialised (an advisory lock on PostgreSQL, the IMMEDIATE write lock on SQLite)."""
        try:
            with self.tx() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(727465)"))
                metadata.create_all(conn, tables=[meta])
                row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
                found = int(row[0]) if row else 0
                if found > LATEST:
                    raise SchemaTooNew(f"the database has schema version {found}, newer than this partnerdx "
                                       f"understands ({LATEST}); upgrade partnerdx")
                for version in range(found, LATEST):
                    MIGRATIONS[version](conn)
                    _set_meta(conn, "schema_version", str(version + 1), exists=version > 0 or row is not None)
                return found
        except OperationalError as exc:
            raise _problem(self.url, f"cannot open the database: {str(exc.orig).strip().splitlines()[0]}") from None

    def version(self) -> int:
        with self.tx() as conn:
            row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
            return int(row[0]) if row else 0

    def secret(self) -> str:
        with self.tx() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == "secret_key")).scalar_one()

    def dispose(self) -> None:
        self.engine.dispose()


def _set_meta(conn: Connection, key: str, value: str, exists: bool) -> None:
    if exists:
        conn.execute(meta.update().where(meta.c.key == key).values(value=value))
    else:
        conn.execute(meta.insert().values(key=key, value=value))


def open_database(url: str | None) -> Database:
    """Open and upgrade; the one entry point for the server and the `user` commands."""
    db = Database(url)
    try:
        db.upgrade()
    except SchemaTooNew as exc:
        db.dispose()
        raise _problem(db.url, str(exc)) from None
    except InputError:
        db.dispose()
        raise
    return db
