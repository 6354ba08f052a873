"""Engines with timeouts, schema migrations (Alembic scripts ship inside the package and run on start), and
:class:`Storage`, the database as the server uses it: every call bounded in time, every failure a
:class:`~emolens.errors.StorageError`."""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Optional, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from emolens.errors import StorageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
TIMEOUT_S = 5.0
"""Default limit for connecting, for one statement and for waiting on a lock."""
RECHECK_S = 0.5
"""While storage is down, a background probe runs this often, so that it is known back within about this long
whether or not requests come (the first ones are not refused with the old error)."""
T = TypeVar("T")


def _sqlite_pragmas(busy_ms: int, dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; the busy timeout makes concurrent writers wait (boundedly)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, timeout_s: float = TIMEOUT_S) -> Engine:
    """An engine for ``url`` whose connects, statements and lock waits give up after ``timeout_s``; SQLite
    files get their folder created and WAL mode."""
    ms = int(timeout_s * 1000)
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args = {"connect_timeout": max(2, round(timeout_s)),
                        "options": f"-c statement_timeout={ms} -c lock_timeout={ms} "
                                   f"-c idle_in_transaction_session_timeout={10 * ms}"}
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, pool_pre_ping=not sqlite, pool_timeout=timeout_s, connect_args=connect_args)
    if sqlite:
        database = engine.url.database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the database folder {Path(database).parent}: "
                                   f"{exc.strerror}") from None
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, ms))
    return engine


def alembic_config() -> Config:
    """Alembic configuration pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def describe(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement dump and links."""
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; cheap when already there). A database that cannot be
    opened or written is a :class:`StorageError` naming it."""
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            probe(connection)
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise StorageError(f"cannot use the database {where}: {describe(exc)}") from None


def probe(connection: Any) -> None:
    """A cheap write that proves the database takes writes (rewrites the schema version row in place)."""
    connection.execute(text("UPDATE alembic_version SET version_num = version_num"))


def _write_probe(engine: Engine) -> Optional[str]:
    """The schema revision, after a committed write probe."""
    with engine.begin() as conn:
        probe(conn)
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


class Storage:
    """The database as the server uses it. Each call runs on a small pool of helper threads and is waited for
    at most ``timeout_s``: a frozen database server (a stopped process never answers, so its own
    statement timeout never fires) costs a request ``timeout_s``, never a hung thread of the web server.
    A call given up on never commits afterwards (its commit is refused), so what was answered 503 is not
    stored later. Failures and timeouts raise :class:`StorageError`; the last one is remembered, so that a
    request can check storage cheaply (:meth:`check`) before it spends CPU on analysis, and while storage is
    down only one request at a time waits for a probe: the others fail at once and free their threads. While
    it is down a background thread probes it every RECHECK_S, so that it is known back promptly even in a
    worker that gets no requests meanwhile."""

    def __init__(self, engine: Engine, timeout_s: float = TIMEOUT_S, threads: int = 16) -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="storage")
        self._failure: Optional[str] = None
        self._probing = threading.Lock()
        self._watching = False  # whether the background probe runs; changed under _watch_lock
        self._watch_lock = threading.Lock()
        self._call = threading.local()
        self._closed = False
        event.listen(engine, "commit", self._refuse_abandoned_commit)

    def _refuse_abandoned_commit(self, _conn: Any) -> None:
        abandoned = getattr(self._call, "abandoned", None)
        if abandoned is not None and abandoned.is_set():
            raise StorageError("the request gave up waiting; not committed")

    def _run(self, abandoned: threading.Event, func: Callable[..., T], args: tuple[Any, ...]) -> T:
        self._call.abandoned = abandoned
        try:
            return func(self.engine, *args)
        finally:
            self._call.abandoned = None

    def call(self, func: Callable[..., T], *args: Any, timeout_s: Optional[float] = None) -> T:
        """``func(engine, *args)``, bounded in time; database errors and timeouts become StorageError."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        abandoned = threading.Event()
        try:
            future = self._pool.submit(self._run, abandoned, func, args)
        except RuntimeError:  # the pool is shut down
            raise StorageError("storage unavailable: closed") from None
        try:
            result = future.result(limit)
        except (FutureTimeout, SQLAlchemyError) as exc:
            abandoned.set()
            reason = f"did not answer within {limit:g} s" if isinstance(exc, FutureTimeout) else describe(exc)
            failure = self._failure = f"storage unavailable: {reason}"
            self._watch()
            raise StorageError(failure) from None
        self._failure = None
        return result

    def close(self) -> None:
        """Stop the helper threads and close the engine's connections; later calls raise StorageError. A call
        still running (on a frozen database) is not waited for: its thread ends when the database answers or
        times out. Idempotent."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()

    @property
    def failure(self) -> Optional[str]:
        """Why storage is known to be unavailable (the last call failed), or None while it works."""
        return self._failure

    def revision(self, timeout_s: float) -> Optional[str]:
        """The schema revision, after proving with a committed write that the database takes writes."""
        return self.call(_write_probe, timeout_s=timeout_s)

    def check(self) -> None:
        """Free while storage works. After a failure: a write probe (at most 1 s) that raises StorageError if
        storage still fails, or, while another request is probing, StorageError at once."""
        failure = self._failure
        if failure is None:
            return
        if not self._probing.acquire(blocking=False):
            raise StorageError(failure)
        try:
            self.revision(timeout_s=min(1.0, self.timeout_s))
        finally:
            self._probing.release()

    def _watch(self) -> None:
        """Start the background probe, unless it runs already."""
        with self._watch_lock:
            if self._watching:
                return
            self._watching = True
        threading.Thread(target=_probe_until_back, args=(weakref.ref(self),), name="storage-probe",
                         daemon=True).start()


def _probe_until_back(ref: weakref.ref[Storage]) -> None:
    """Probe storage every RECHECK_S until it works (a successful call clears the failure), is closed or is gone."""
    while True:
        time.sleep(RECHECK_S)
        storage = ref()
        if storage is None:
            return
        with storage._watch_lock:
            if storage._failure is None or storage._closed:
                storage._watching = False
                return
        try:  # beside the requests' own probes (check): never makes one of them fail at once
            storage.revision(timeout_s=min(1.0, storage.timeout_s))
        except StorageError:
            pass
        del storage  # hold no reference while sleeping: an app that is dropped takes its storage with it
