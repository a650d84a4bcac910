"""The durable queue and history: an embedded SQLite database (stdlib sqlite3, WAL).

ComfyUI keeps both in memory and loses them on restart. Here every queued prompt is written before POST
/prompt answers, marked running when the worker takes it, and replaced by its history entry when it ends. After
a crash, ``recover()`` says what was pending (to run again, in order) and what was running (recorded as failed,
or queued again when configured). Writes are small and go through one connection on the server's loop.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

log = logging.getLogger("nodehost.server")
F = TypeVar("F", bound=Callable[..., Any])


class StoreFailed(Exception):
    """The database broke while the server runs (disk full, a corrupted page, the file gone)."""


def _guarded(method: F) -> F:
    """sqlite3 errors (other than a duplicate key) as StoreFailed, and the store marked broken."""

    @functools.wraps(method)
    def call(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            self.broken = f"{type(exc).__name__}: {exc}"
            log.error("the queue/history database %s failed: %s", self.path, exc)
            raise StoreFailed(f"the queue/history database failed ({exc}); prompts are not kept across "
                              f"restarts until it is repaired: {self.path}") from None

    return call  # type: ignore[return-value]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    prompt_id TEXT PRIMARY KEY, number REAL NOT NULL, state TEXT NOT NULL DEFAULT 'pending', item BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, prompt_id TEXT UNIQUE NOT NULL, item BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoredPrompt(msgspec.Struct):
    """A queue item as stored: everything needed to validate and run it again."""

    number: float
    prompt_id: str
    prompt: Any
    extra_data: dict[str, Any]
    outputs: list[str]
    sensitive: dict[str, Any] = {}
    partial_targets: list[str] | None = None


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        #: why the store stopped working while running (None: healthy); /system_stats reports it
        self.broken: str | None = None
        #: where a corrupt file found at start-up was moved
        self.moved_aside: Path | None = None
        salvaged: list[tuple[str, bytes]] = []
        problem = check_file(path)
        if problem is not None:
            salvaged = salvage_history(path)
            self.moved_aside = move_aside(path)
            log.error("THE QUEUE/HISTORY DATABASE %s IS CORRUPT (%s): moved to %s; starting with a fresh store "
                      "(%d history entries recovered)", path, problem, self.moved_aside, len(salvaged))
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        if salvaged:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT OR IGNORE INTO history (prompt_id, item) VALUES (?, ?)", salvaged)

    def health(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": self.broken is None, "error": self.broken,
                "moved_aside": str(self.moved_aside) if self.moved_aside else None}

    def close(self) -> None:
        self.db.close()

    # -- queue ------------------------------------------------------------------------------------------
    @_guarded
    def add_pending(self, item: StoredPrompt, replace: bool = False) -> None:
        """A new prompt (a duplicate prompt_id raises sqlite3.IntegrityError: never a lost row), or with
        ``replace`` a recovered one written again."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        self.db.execute(f"{verb} INTO queue (prompt_id, number, state, item) VALUES (?, ?, 'pending', ?)",
                        (item.prompt_id, item.number, msgspec.json.encode(item)))

    @_guarded
    def mark_running(self, prompt_id: str) -> None:
        self.db.execute("UPDATE queue SET state = 'running' WHERE prompt_id = ?", (prompt_id,))

    @_guarded
    def mark_pending(self, prompt_id: str) -> None:
        """A running prompt queued again (its worker was lost mid-prompt)."""
        self.db.execute("UPDATE queue SET state = 'pending' WHERE prompt_id = ?", (prompt_id,))

    @_guarded
    def finish(self, prompt_id: str, history_item: dict[str, Any], max_history: int) -> None:
        """The prompt ended: its history entry replaces its queue row, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM queue WHERE prompt_id = ?", (prompt_id,))
            self._add_history(prompt_id, history_item, max_history)

    @_guarded
    def delete_pending(self, prompt_ids: list[str] | None = None) -> None:
        if prompt_ids is None:
            self.db.execute("DELETE FROM queue WHERE state = 'pending'")
        else:
            self.db.executemany("DELETE FROM queue WHERE prompt_id = ? AND state = 'pending'",
                                [(p,) for p in prompt_ids])

    @_guarded
    def queued(self, state: str) -> list[StoredPrompt]:
        rows = self.db.execute("SELECT item FROM queue WHERE state = ? ORDER BY number, prompt_id", (state,))
        return [msgspec.json.decode(row[0], type=StoredPrompt) for row in rows]

    @_guarded
    def counter(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'counter'").fetchone()
        return int(row[0]) if row else 0

    @_guarded
    def set_counter(self, value: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('counter', ?)", (str(value),))

    # -- history ----------------------------------------------------------------------------------------
    def _add_history(self, prompt_id: str, item: dict[str, Any], max_history: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO history (prompt_id, item) VALUES (?, ?)",
                        (prompt_id, msgspec.json.encode(item)))
        self.db.execute("DELETE FROM history WHERE seq NOT IN (SELECT seq FROM history ORDER BY seq DESC LIMIT ?)",
                        (max_history,))

    @_guarded
    def add_history(self, prompt_id: str, item: dict[str, Any], max_history: int) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self._add_history(prompt_id, item, max_history)

    @_guarded
    def history(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.execute("SELECT prompt_id, item FROM history ORDER BY seq")
        return [(pid, msgspec.json.decode(item)) for pid, item in rows]

    @_guarded
    def delete_history(self, prompt_ids: list[str] | None = None) -> None:
        if prompt_ids is None:
            self.db.execute("DELETE FROM history")
        else:
            self.db.executemany("DELETE FROM history WHERE prompt_id = ?", [(p,) for p in prompt_ids])


def check_file(path: Path) -> str | None:
    """Why an existing database file cannot be trusted (SQLite's integrity check), or None."""
    if not path.exists():
        return None
    if path.stat().st_size == 0:
        return "the file is empty (0 bytes)"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("PRAGMA integrity_check").fetchall()
            db.execute("SELECT count(*) FROM queue").fetchone()
            db.execute("SELECT count(*) FROM history").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    if rows != [("ok",)]:
        return "; ".join(str(r[0]) for r in rows[:5])
    return None


def salvage_history(path: Path) -> list[tuple[str, bytes]]:
    """The history rows that can still be read from a corrupt file, row by row."""
    found: list[tuple[str, bytes]] = []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return found
    try:  # point lookups by rowid: only the rows on a broken page are lost, not the scan after it
        last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'history'").fetchone()
        for seq in range(1, int(last[0]) + 1 if last else 0):
            try:
                row = db.execute("SELECT prompt_id, item FROM history WHERE seq = ?", (seq,)).fetchone()
                if row is None:
                    continue
                msgspec.json.decode(row[1])
                found.append((row[0], row[1]))
            except (sqlite3.Error, msgspec.DecodeError, TypeError):
                continue
    except sqlite3.Error:
        pass
    finally:
        db.close()
    return found


def move_aside(path: Path) -> Path:
    """``nodehost.sqlite3`` -> ``nodehost.sqlite3.corrupt-<time>`` (its -wal and -shm files along)."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target
