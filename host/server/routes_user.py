"""Users, settings and user data (COMPAT §1.1 Users, §1.2 ``/users``, ``/settings``, ``/userdata``,
``/v2/userdata``): ComfyUI's shapes and status codes over the store in ``host.server.users``.

Unknown users are 401 on the settings routes and 403 on the user-data routes; paths that would leave the user's
folder are 403 (``/userdata``, ``/userdata/{file}``) or 400 (``/v2/userdata``), as ComfyUI answers them. Error
bodies are short texts, except ``POST /users`` (``{"error"}``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from host.server.safe_paths import PathRefused
from host.server.state import STATE
from host.server.users import USER_HEADER, InvalidUsername, UnknownUser, UserStore, store_of, write_atomic

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Fail(Exception):
    """Answer with ``status`` and a short text body."""

    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(text)
        self.status, self.text = status, text


def answers(unknown_user: int) -> Callable[[Handler], Handler]:
    """Turn Fail and UnknownUser into their responses (``unknown_user``: 401 settings, 403 user data)."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except UnknownUser as exc:
                return web.Response(status=unknown_user, text=str(exc))
            except Fail as exc:
                return web.Response(status=exc.status, text=exc.text or None)

        return run

    return wrap


def store(request: web.Request) -> UserStore:
    return store_of(request.app, request.app[STATE].config)


def user_of(request: web.Request, users: UserStore) -> str:
    return users.user_id(request.headers.get(USER_HEADER))


async def json_body(request: web.Request) -> Any:
    """The body as JSON whatever the Content-Type; empty or invalid is a 400."""
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise Fail(400, "the body is not valid JSON") from None


def flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value.lower() not in ("false", "0") if default else value.lower() == "true"


# -- users ---------------------------------------------------------------------------------------------------


async def get_users(request: web.Request) -> web.Response:
    users = store(request)
    if users.multi_user:
        return web.json_response({"storage": "server", "users": users.users()})
    return web.json_response({"storage": "server", "migrated": users.user_root(user_of(request, users)).is_dir()})


async def post_users(request: web.Request) -> web.Response:
    users = store(request)
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError):
        body = None
    name = body.get("username") if isinstance(body, dict) else None
    if not isinstance(name, str):
        return web.json_response({"error": "username not provided"}, status=400)
    if not users.multi_user:
        return web.json_response({"error": "users can only be created in multi-user mode"}, status=400)
    try:
        return web.json_response(users.add_user(name))
    except InvalidUsername as exc:
        return web.json_response({"error": str(exc)}, status=400)


# -- settings ------------------------------------------------------------------------------------------------


def save_settings(users: UserStore, user: str, settings: dict[str, Any]) -> web.Response:
    try:
        users.write_settings(user, settings)
    except OSError as exc:
        raise Fail(400, f"could not save the settings: {exc.strerror or exc}") from None
    return web.Response()


@answers(unknown_user=401)
async def get_settings(request: web.Request) -> web.Response:
    users = store(request)
    return web.json_response(users.read_settings(user_of(request, users)))


@answers(unknown_user=401)
async def get_setting(request: web.Request) -> web.Response:
    users = store(request)
    return web.json_response(users.read_settings(user_of(request, users)).get(request.match_info["id"]))


@answers(unknown_user=401)
async def post_settings(request: web.Request) -> web.Response:
    users = store(request)
    user = user_of(request, users)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Fail(400, "the body must be a JSON object")
    return save_settings(users, user, users.read_settings(user) | body)


@answers(unknown_user=401)
async def post_setting(request: web.Request) -> web.Response:
    users = store(request)
    user = user_of(request, users)
    value = await json_body(request)
    return save_settings(users, user, users.read_settings(user) | {request.match_info["id"]: value})


# -- user data -----------------------------------------------------------------------------------------------


@answers(unknown_user=403)
async def list_userdata(request: web.Request) -> web.Response:
    users = store(request)
    user = user_of(request, users)
    directory = request.query.get("dir", "")
    if not directory:
        raise Fail(400, "Directory not provided")
    try:
        path = users.resolve(user, directory)
    except PathRefused:
        raise Fail(403, "Invalid directory") from None
    if not path.exists():
        raise Fail(404, "Directory not found")
    if not path.is_dir():
        return web.json_response([])  # as ComfyUI's glob below a file: nothing
    files = users.list_files(user, path, flag(request, "recurse", False))
    if flag(request, "full_info", False):
        return web.json_response([users.file_info(f, path) for f in files])
    rels = [f.relative_to(path).as_posix() for f in files]
    if flag(request, "split", False):
        return web.json_response([[rel, *rel.split("/")] for rel in rels])
    return web.json_response(rels)


@answers(unknown_user=403)
async def list_userdata_v2(request: web.Request) -> web.Response:
    users = store(request)
    user = user_of(request, users)
    base = users.user_root(user)
    try:
        target = users.resolve(user, unquote(request.query.get("path", "")))
    except PathRefused:
        raise Fail(400, "Invalid path requested") from None
    if not target.exists():
        if target == base:
            return web.json_response([])  # a user who has saved nothing yet
        raise Fail(404, "Requested path not found")
    if not target.is_dir():
        raise Fail(400, "Requested path is not a directory")
    return web.json_response(users.list_tree(user, target))


def file_param(request: web.Request, users: UserStore, user: str, param: str = "file") -> Path:
    """The user's path named by the (URL-decoded) route parameter; 403 if it would leave the folder."""
    try:
        return users.resolve(user, request.match_info[param])
    except PathRefused:
        raise Fail(403, "Invalid path") from None


def written(request: web.Request, users: UserStore, user: str, path: Path) -> web.Response:
    if flag(request, "full_info", False):
        return web.json_response(users.file_info(path, users.user_root(user)))
    return web.json_response(users.relative(user, path))


@answers(unknown_user=403)
async def get_userdata_file(request: web.Request) -> web.StreamResponse:
    users = store(request)
    path = file_param(request, users, user_of(request, users))
    if not path.is_file():
        raise Fail(404, "File not found")
    return web.FileResponse(path)


@answers(unknown_user=403)
async def post_userdata_file(request: web.Request) -> web.Response:
    users = store(request)
    user = user_of(request, users)
    path = file_param(request, users, user)
    if path == users.user_root(user):
        raise Fail(400, "Invalid filename")
    if not flag(request, "overwrite", True) and path.exists():
        raise Fail(409, "File already exists")
    body = await request.read()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, body)
    except OSError:
        raise Fail(400, 'Invalid filename. Please avoid special characters like :\\/*?"<>|') from None
    return written(request, users, user, path)


@answers(unknown_user=403)
async def delete_userdata_file(request: web.Request) -> web.Response:
    users = store(request)
    path = file_param(request, users, user_of(request, users))
    if path.is_dir() or not (path.exists() or path.is_symlink()):
        raise Fail(404, "File not found")
    try:
        path.unlink()
    except FileNotFoundError:
        raise Fail(404, "File not found") from None
    except OSError as exc:
        raise Fail(400, f"could not delete: {exc.strerror or exc}") from None
    return web.Response(status=204)


@answers(unknown_user=403)
async def move_userdata_file(request: web.Request) -> web.Response:
    users = store(request)
    user = user_of(request, users)
    source = file_param(request, users, user)
    if not source.exists():
        raise Fail(404, "File not found")
    dest = file_param(request, users, user, "dest")
    root = users.user_root(user)
    if root in (source, dest):
        raise Fail(400, "Invalid path")
    if dest != source:
        if dest.exists() and not flag(request, "overwrite", True):
            raise Fail(409, "File already exists")
        if dest.is_dir():
            raise Fail(409, "Destination is a directory")
        if source in dest.parents:
            raise Fail(400, "Cannot move a folder into itself")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, dest)
        except (OSError, shutil.Error) as exc:
            raise Fail(400, f"could not move: {exc}") from None
    return written(request, users, user, dest)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/users", get_users), web.post("/users", post_users),
        web.get("/settings", get_settings), web.post("/settings", post_settings),
        web.get("/settings/{id}", get_setting), web.post("/settings/{id}", post_setting),
        web.get("/userdata", list_userdata), web.get("/v2/userdata", list_userdata_v2),
        web.get("/userdata/{file}", get_userdata_file), web.post("/userdata/{file}", post_userdata_file),
        web.delete("/userdata/{file}", delete_userdata_file),
        web.post("/userdata/{file}/move/{dest}", move_userdata_file),
    ]
