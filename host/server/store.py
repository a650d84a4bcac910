"""The durable queue and history: an embedded SQLite database (stdlib sqlite3, WAL).

ComfyUI keeps both in memory and loses them on restart. Here every queued prompt is written before POST
/prompt answers, marked running when the worker takes it, and replaced by its history entry when it ends. After
a crash, ``recover()`` says what was pending (to run again, in order) and what was running (recorded as failed,
or queued again when configured). Writes are small and go through one connection on the server's loop.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec

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
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- queue ------------------------------------------------------------------------------------------
    def add_pending(self, item: StoredPrompt, replace: bool = False) -> None:
        """A new prompt (a duplicate prompt_id raises sqlite3.IntegrityError: never a lost row), or with
        ``replace`` a recovered one written again."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        self.db.execute(f"{verb} INTO queue (prompt_id, number, state, item) VALUES (?, ?, 'pending', ?)",
                        (item.prompt_id, item.number, msgspec.json.encode(item)))

    def mark_running(self, prompt_id: str) -> None:
        self.db.execute("UPDATE queue SET state = 'running' WHERE prompt_id = ?", (prompt_id,))

    def finish(self, prompt_id: str, history_item: dict[str, Any], max_history: int) -> None:
        """The prompt ended: its history entry replaces its queue row, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM queue WHERE prompt_id = ?", (prompt_id,))
            self._add_history(prompt_id, history_item, max_history)

    def delete_pending(self, prompt_ids: list[str] | None = None) -> None:
        if prompt_ids is None:
            self.db.execute("DELETE FROM queue WHERE state = 'pending'")
        else:
            self.db.executemany("DELETE FROM queue WHERE prompt_id = ? AND state = 'pending'",
                                [(p,) for p in prompt_ids])

    def queued(self, state: str) -> list[StoredPrompt]:
        rows = self.db.execute("SELECT item FROM queue WHERE state = ? ORDER BY number, prompt_id", (state,))
        return [msgspec.json.decode(row[0], type=StoredPrompt) for row in rows]

    def counter(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'counter'").fetchone()
        return int(row[0]) if row else 0

    def set_counter(self, value: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('counter', ?)", (str(value),))

    # -- history ----------------------------------------------------------------------------------------
    def _add_history(self, prompt_id: str, item: dict[str, Any], max_history: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO history (prompt_id, item) VALUES (?, ?)",
                        (prompt_id, msgspec.json.encode(item)))
        self.db.execute("DELETE FROM history WHERE seq NOT IN (SELECT seq FROM history ORDER BY seq DESC LIMIT ?)",
                        (max_history,))

    def add_history(self, prompt_id: str, item: dict[str, Any], max_history: int) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self._add_history(prompt_id, item, max_history)

    def history(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.execute("SELECT prompt_id, item FROM history ORDER BY seq")
        return [(pid, msgspec.json.decode(item)) for pid, item in rows]

    def delete_history(self, prompt_ids: list[str] | None = None) -> None:
        if prompt_ids is None:
            self.db.execute("DELETE FROM history")
        else:
            self.db.executemany("DELETE FROM history WHERE prompt_id = ?", [(p,) for p in prompt_ids])
