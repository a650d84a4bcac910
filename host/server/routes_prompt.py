"""Prompt, queue, history, interrupt, object_info, features and the WebSocket (COMPAT §1.2, §3)."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from typing import Any

import msgspec
from aiohttp import web

from host.executor.errors import ValidationFailed
from host.executor.validation import validate_prompt
from host.server.jsontext import dumps, lone_surrogate
from host.server.queue import SENSITIVE_KEYS, QueueItem
from host.server.state import STATE, ServerState, now_ms
from host.server.store import StoredPrompt, StoreFailed
from host.server.ws import SERVER_FEATURES


class BadRequest(Exception):
    """A request that cannot be served: a clear 400 with a JSON error, never a 500."""


async def read_json(request: web.Request) -> Any:
    """The body as JSON whatever the Content-Type (clients send text/plain too); empty -> None."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    bad = lone_surrogate(body)
    if bad is not None:
        raise BadRequest(f"the body holds a lone surrogate (not valid Unicode) in {bad[:40]!r}")
    return body


def error_400(message: str, kind: str = "invalid_request") -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message, "details": message, "extra_info": {}},
                              "node_errors": {}}, status=400)


def duplicate_id(state: ServerState, prompt_id: str) -> web.Response | None:
    """A prompt_id already queued, running or in history is refused: reusing it would lose a prompt."""
    where = "queued or running" if prompt_id in state.queue else "in history" if prompt_id in state.history else None
    if where is None:
        return None
    return error_400(f"prompt_id {prompt_id!r} is already {where}; use a new id", "duplicate_prompt_id")


def state_of(request: web.Request) -> ServerState:
    return request.app[STATE]


async def post_prompt(request: web.Request) -> web.Response:
    state = state_of(request)
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return error_400(str(exc))
    if not isinstance(body, dict):
        return error_400("the body must be a JSON object")
    number = state.queue.next_number(front=bool(body.get("front")))  # consumed even if validation fails
    if "number" in body:
        try:
            number = float(body["number"])
        except (TypeError, ValueError, OverflowError):
            return error_400("number must be a number")
        if not math.isfinite(number):
            return error_400("number must be a finite number")
    if "prompt" not in body:
        return error_400("No prompt provided", "no_prompt")
    extra = body.get("extra_data") or {}
    if not isinstance(extra, dict):
        return error_400("extra_data must be an object")
    extra = dict(extra)
    if "client_id" in body:
        extra["client_id"] = body["client_id"]
    extra["create_time"] = now_ms()
    sensitive = {k: extra.pop(k) for k in SENSITIVE_KEYS if k in extra}
    targets = body.get("partial_execution_targets")
    if targets is not None and not isinstance(targets, list):
        return error_400("partial_execution_targets must be a list of node ids")
    prompt_id = str(body["prompt_id"]) if body.get("prompt_id") is not None else str(uuid.uuid4())
    await state.ready.wait()  # a prompt that needs a pack waits for the packs to load
    if (duplicate := duplicate_id(state, prompt_id)) is not None:
        return duplicate
    assert state.validator is not None
    try:
        validated = await asyncio.wrap_future(state.validator.submit(
            validate_prompt(body["prompt"], state.registry, targets)))
    except ValidationFailed as failed:
        return web.json_response(failed.body(), status=400)
    if (duplicate := duplicate_id(state, prompt_id)) is not None:  # one with that id came in meanwhile
        return duplicate
    item = QueueItem(number, prompt_id, body["prompt"], extra, validated.outputs, sensitive, validated)
    if state.store is not None:  # durable before we answer
        try:
            state.store.set_counter(state.queue.counter)
            state.store.add_pending(StoredPrompt(number, prompt_id, body["prompt"], extra, validated.outputs,
                                                 sensitive, targets))
        except StoreFailed as exc:
            return web.json_response({"error": {"type": "store_failed", "message": str(exc), "details": str(exc),
                                                "extra_info": {}}, "node_errors": {}}, status=503)
    state.queue.put(item)
    state.broadcast_status()
    return web.json_response({"prompt_id": prompt_id, "number": number,
                              "node_errors": msgspec.to_builtins(validated.node_errors)})


async def get_prompt(request: web.Request) -> web.Response:
    return web.json_response({"exec_info": {"queue_remaining": state_of(request).queue.remaining()}})


async def get_queue(request: web.Request) -> web.Response:
    state = state_of(request)
    await state.ready.wait()  # after a restart, the stored pending prompts are queued again first
    queue = state.queue
    return web.json_response({"queue_running": [i.wire() for i in queue.running.values()],
                              "queue_pending": [i.wire() for i in queue.pending()]}, dumps=dumps)


async def post_queue(request: web.Request) -> web.Response:
    state = state_of(request)
    await state.ready.wait()
    try:
        body = await read_json(request) or {}
    except BadRequest as exc:
        return error_400(str(exc))
    if not isinstance(body, dict):
        return error_400("the body must be a JSON object")
    if body.get("clear"):
        state.queue.wipe()
        if state.store is not None:
            state.store.delete_pending()
    if isinstance(body.get("delete"), list):
        ids = [str(x) for x in body["delete"]]
        state.queue.delete(set(ids))
        if state.store is not None:
            state.store.delete_pending(ids)
    state.broadcast_status()
    return web.Response()


async def post_interrupt(request: web.Request) -> web.Response:
    state = state_of(request)
    try:
        body = await read_json(request)
    except BadRequest:
        body = None  # invalid JSON: a global interrupt, as ComfyUI
    prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
    if state.pool is not None:  # an empty id is none, as ComfyUI: interrupt whatever runs (on every worker)
        state.pool.interrupt(str(prompt_id) if prompt_id not in (None, "") else None)
    return web.Response()


def _int_query(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None


async def get_history(request: web.Request) -> web.Response:
    try:
        max_items = _int_query(request, "max_items")
        offset = _int_query(request, "offset")
    except BadRequest as exc:
        return error_400(str(exc))
    state = state_of(request)
    await state.history_ready.wait()  # after a restart the stored history is read back first
    return web.json_response(state.history.page(max_items, -1 if offset is None else offset), dumps=dumps)


async def get_history_item(request: web.Request) -> web.Response:
    state = state_of(request)
    await state.history_ready.wait()
    return web.json_response(state.history.get(request.match_info["prompt_id"]), dumps=dumps)


async def post_history(request: web.Request) -> web.Response:
    state = state_of(request)
    await state.history_ready.wait()
    history = state.history
    try:
        body = await read_json(request) or {}
    except BadRequest as exc:
        return error_400(str(exc))
    if not isinstance(body, dict):
        return error_400("the body must be a JSON object")
    if body.get("clear"):
        history.clear()
        if state.store is not None:
            state.store.delete_history()
    if isinstance(body.get("delete"), list):
        ids = [str(x) for x in body["delete"]]
        history.delete(ids)
        if state.store is not None:
            state.store.delete_history(ids)
    return web.Response()


async def get_object_info(request: web.Request) -> web.Response:
    state = state_of(request)
    await state.ready.wait()
    return web.json_response(state.registry.object_info())


async def get_object_info_node(request: web.Request) -> web.Response:
    state = state_of(request)
    await state.ready.wait()
    return web.json_response(state.registry.object_info(request.match_info["node_class"]))


async def get_features(request: web.Request) -> web.Response:
    return web.json_response(SERVER_FEATURES)


async def websocket(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    return await state.sockets.handler(request, state.status())


def routes() -> list[web.RouteDef]:
    return [
        web.get("/ws", websocket),
        web.get("/prompt", get_prompt), web.post("/prompt", post_prompt),
        web.get("/queue", get_queue), web.post("/queue", post_queue),
        web.post("/interrupt", post_interrupt),
        web.get("/history", get_history), web.post("/history", post_history),
        web.get("/history/{prompt_id}", get_history_item),
        web.get("/object_info", get_object_info), web.get("/object_info/{node_class}", get_object_info_node),
        web.get("/features", get_features),
    ]
