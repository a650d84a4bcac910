"""The user store over ``ServerConfig.user_dir`` (COMPAT §1.1 Users): one folder per user, ``users.json`` naming
the users in multi-user mode, ``comfy.settings.json`` per user, and every user path confined to its folder.

Single-user (the default): the only user is ``default`` and the ``Comfy-User`` header is ignored. Multi-user
(``config.extra["multi_user"]``, ComfyUI's ``--multi-user``): the header names the user, who must be listed in
``users.json``; ids starting with ``__`` (ComfyUI's system users) are never accepted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from host.server.safe_paths import confine, inside

log = logging.getLogger("nodehost.server.users")

DEFAULT_USER = "default"
SYSTEM_PREFIX = "__"
USERS_FILE = "users.json"
SETTINGS_FILE = "comfy.settings.json"
USER_HEADER = "Comfy-User"
_NOT_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")


class UnknownUser(Exception):
    """The request names no known user (ComfyUI raises KeyError: 401 on settings, 403 on user data)."""


class InvalidUsername(ValueError):
    """A username that cannot become a user id (empty, or a reserved ``__`` name)."""


def sanitize(name: str) -> str:
    """ComfyUI's id stem: every run of characters other than ``[a-zA-Z0-9_-]`` becomes one ``-``."""
    return _NOT_ID_CHARS.sub("-", name)


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder, then rename: a reader never sees half a file."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o644  # what a plain open() gives under the usual umask (mkstemp's own 0600 would hide it)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class UserStore:
    """Users, their folders and their settings. A plain object built from the config: nothing is read or
    written until a method needs it."""

    def __init__(self, root: Path | str, multi_user: bool = False) -> None:
        self.root = Path(os.path.abspath(root))
        self.multi_user = multi_user
        self._users: dict[str, str] | None = None

    @classmethod
    def from_config(cls, config: Any) -> UserStore:
        return cls(config.user_dir, bool(config.extra.get("multi_user", False)))

    # -- users ---------------------------------------------------------------------------------------------

    @property
    def users_file(self) -> Path:
        return self.root / USERS_FILE

    def users(self) -> dict[str, str]:
        """``{user_id: name}``: ``users.json`` in multi-user mode (``{}`` if missing or unreadable)."""
        if not self.multi_user:
            return {DEFAULT_USER: DEFAULT_USER}
        if self._users is None:
            self._users = self._load_users()
        return dict(self._users)

    def _load_users(self) -> dict[str, str]:
        try:
            data = json.loads(self.users_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.users_file, exc)
            return {}
        if not isinstance(data, dict):
            log.warning("ignoring %s: not a JSON object", self.users_file)
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def add_user(self, name: str) -> str:
        """A new user ``<sanitized name>_<uuid4>``; InvalidUsername if empty, reserved or already taken."""
        name = name.strip()
        if not name:
            raise InvalidUsername("username not provided")
        if name in self.users().values():
            raise InvalidUsername("Duplicate username.")
        stem = sanitize(name)
        if stem.startswith(SYSTEM_PREFIX):
            raise InvalidUsername(f"usernames starting with {SYSTEM_PREFIX!r} are reserved")
        user_id = f"{stem}_{uuid.uuid4()}"
        users = self.users() | {user_id: name}
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.users_file, json.dumps(users).encode())
        self._users = users
        return user_id

    def user_id(self, header: str | None) -> str:
        """The request's user: ``default`` in single-user mode, else the ``Comfy-User`` header (UnknownUser)."""
        user = header if self.multi_user and header is not None else DEFAULT_USER
        if user.startswith(SYSTEM_PREFIX) or not self._safe_id(user) or user not in self.users():
            raise UnknownUser(f"Unknown user: {user}")
        return user

    @staticmethod
    def _safe_id(user: str) -> bool:
        return bool(user) and user not in (".", "..") and not any(c in user for c in ("/", "\\", "\0"))

    def user_root(self, user: str) -> Path:
        return self.root / user

    # -- paths ---------------------------------------------------------------------------------------------

    def resolve(self, user: str, rel: str | None) -> Path:
        """``rel`` inside the user's folder (decoded once more if it still holds ``%``, as ComfyUI), checked both
        lexically and with symlinks resolved; PathRefused if it would leave the folder."""
        return confine(self.user_root(user), rel, userdata=True)

    def contains(self, user: str, path: str | Path) -> bool:
        """Whether ``path``, symlinks resolved, is the user's folder or inside it."""
        return inside(self.user_root(user), Path(path))

    def relative(self, user: str, path: Path) -> str:
        return os.path.relpath(path, self.user_root(user)).replace(os.sep, "/")

    @staticmethod
    def file_info(path: Path, base: Path) -> dict[str, Any]:
        st = path.stat()
        return {"path": os.path.relpath(path, base).replace(os.sep, "/"), "size": st.st_size,
                "modified": st.st_mtime, "created": st.st_ctime}

    def list_files(self, user: str, directory: Path, recurse: bool) -> list[Path]:
        """Regular files under ``directory`` (one level, or all with ``recurse``), sorted; like a glob, names
        starting with ``.`` are skipped, and so is anything whose real path leaves the user's folder."""
        found: list[Path] = []
        for top, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recurse else []
            for name in files:
                path = Path(top, name)
                if not name.startswith(".") and path.is_file() and self.contains(user, path):
                    found.append(path)
        return sorted(found)

    def list_tree(self, user: str, directory: Path) -> list[dict[str, Any]]:
        """ComfyUI's v2 listing: every entry below ``directory`` (recursive), paths relative to the user's
        folder, directories first, then by lower-cased name."""
        entries: list[dict[str, Any]] = []
        for top, dirs, files in os.walk(directory):
            dirs[:] = [d for d in dirs if self.contains(user, Path(top, d))]
            for name in dirs:
                entries.append({"name": name, "path": self.relative(user, Path(top, name)), "type": "directory"})
            for name in files:
                path = Path(top, name)
                if not self.contains(user, path):
                    continue
                entry: dict[str, Any] = {"name": name, "path": self.relative(user, path), "type": "file"}
                try:
                    st = path.stat()
                    entry |= {"size": st.st_size, "modified": st.st_mtime}
                except OSError:
                    pass  # listed without size, as ComfyUI
                entries.append(entry)
        entries.sort(key=lambda e: (e["type"] != "directory", e["name"].lower(), e["path"]))
        return entries

    # -- settings ------------------------------------------------------------------------------------------

    def settings_file(self, user: str) -> Path:
        return self.user_root(user) / SETTINGS_FILE

    def read_settings(self, user: str) -> dict[str, Any]:
        """The user's ``comfy.settings.json`` (``{}`` when missing or unreadable). Creates the user's folder,
        as ComfyUI does when it first serves settings (``GET /users`` then reports ``migrated: true``)."""
        self.user_root(user).mkdir(parents=True, exist_ok=True)
        path = self.settings_file(user)
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error("ignoring unreadable settings %s: %s", path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def write_settings(self, user: str, settings: dict[str, Any]) -> None:
        self.user_root(user).mkdir(parents=True, exist_ok=True)
        write_atomic(self.settings_file(user), json.dumps(settings, indent=4).encode())


USERS = web.AppKey("nodehost_users", UserStore)


def install(app: web.Application, config: Any) -> UserStore:
    """Cache a store built from ``config`` on the app (call before the app starts)."""
    store = app[USERS] = UserStore.from_config(config)
    return store


def store_of(app: web.Application, config: Any) -> UserStore:
    """The app's cached store; without one (``install`` not called), a fresh one over the same folder: all
    state lives on disk, so the two behave alike."""
    store = app.get(USERS)
    return store if store is not None else UserStore.from_config(config)
