"""Database work beside the calling thread, on a database connection of its own.

A batch job that waits on one statement at a time keeps one of the database's cores
busy. A ``Lane`` runs independent work on a second connection meanwhile: the quarter
close reads its enablement figures while PostgreSQL aggregates the deals, and writes its
money while it writes the scorecards.

A second connection sees only what is committed. Inside a transaction (a caller's
``atomic`` block, or a test's) or on SQLite (one writer at a time) a lane therefore runs
its work in the calling thread instead, on the caller's connection, when its result is
first asked for: the same work in the same transaction, one step after the other.
"""

from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connection, connections


def _on_own_connection(work, args, kwargs):
    try:
        return work(*args, **kwargs)
    finally:
        connections.close_all()  # this thread's connections only


class _Later:
    """Work run in the calling thread when its result is first asked for."""

    def __init__(self, work, args, kwargs):
        self._call = (work, args, kwargs)
        self._future: Future | None = None

    def result(self):
        if self._future is None:
            self._future = Future()
            work, args, kwargs = self._call
            try:
                self._future.set_result(work(*args, **kwargs))
            except BaseException as exc:
                self._future.set_exception(exc)
        return self._future.result()

    def cancel(self) -> bool:
        return self._future is None


class Lane:
    """One thread with its own connection, used as a context manager; leaving the block
    waits for the work submitted (its errors surface through ``result()``)."""

    def __init__(self, name: str):
        self.name = name
        self.beside = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> "Lane":
        if self.beside:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, work, /, *args, **kwargs):
        """Start ``work(*args, **kwargs)``; the returned object's ``result()`` gives what it
        returned or raises what it raised."""
        if self._pool is None:
            return _Later(work, args, kwargs)
        return self._pool.submit(_on_own_connection, work, args, kwargs)
