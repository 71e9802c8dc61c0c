"""Per-source locks across processes: one crawl of a source at a time, whoever starts it.

A lock is `fcntl.flock` on `<database>.locks/<source>.lock`. The kernel releases it when the
last descriptor of its open file goes away, so a holder that dies (even by SIGKILL) never
leaves a stale lock behind, and no lock file ever needs cleaning up. The daemon and
`presswatch run --due` take the lock of a source for the whole crawl and what follows it;
two daemons by mistake, or a daemon beside cron, therefore never crawl one source at once.

The process that holds a lock passes its descriptor on to the crawl subprocess (see
`scheduler.jobs`): if the holder is killed, the orphaned crawl keeps the lock until it ends,
so a restarted daemon cannot start a second crawl of that source beside it.

flock is advisory and local: it does not protect a database on a network file system shared
between machines (DESIGN.md: one machine; SQLite itself needs that too).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from db.store import utc_now


class LockBusy(Exception):
    """Another process holds the lock; the message says which one, when it is known."""


def lock_dir(db_path: str | Path) -> Path:
    """The folder of a database's lock files: beside the database, so one lock per database."""
    return Path(f"{Path(db_path).resolve()}.locks")


class SourceLock:
    """A held per-source lock; `release()` (or leaving the `with` block) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd: int | None = fd

    def fileno(self) -> int:
        """The locked descriptor, to hand to a subprocess that must keep the lock alive."""
        if self.fd is None:
            raise ValueError(f"The lock {self.path} has been released.")
        return self.fd

    def release(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        # Closing is what releases it (for this process; a subprocess that inherited the
        # descriptor holds the lock until it exits).
        os.close(fd)

    def __enter__(self) -> SourceLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def acquire(db_path: str | Path, source: str) -> SourceLock:
    """Take the lock of `source` for the database at `db_path` without waiting.

    Raises LockBusy when another process (or another open of the file in this process)
    holds it. The file records who took it, for the message another process gets.
    """
    folder = lock_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source}.lock"
    # O_CLOEXEC (Python's default): only a subprocess given the descriptor explicitly
    # (pass_fds) keeps the lock; crawls of other sources started meanwhile do not.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise LockBusy(
            f"Source '{source}' is being crawled by another process"
            + (f" ({holder})" if holder else "")
            + f"; lock file {path}."
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {utc_now()}\n".encode(), 0)
    return SourceLock(path, fd)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""  # who holds it is only a hint for the message
