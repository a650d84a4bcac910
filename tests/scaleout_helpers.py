"""Client helpers of the scale-out tests (tests/host/scaleout): queue a prompt, wait for its history, collect
its WebSocket messages."""

from __future__ import annotations

import asyncio
from typing import Any


async def post(client: Any, prompt: dict[str, Any], **body: Any) -> str:
    resp = await client.post("/prompt", json={"prompt": prompt, **body})
    answer = await resp.json()
    assert resp.status == 200, answer
    return str(answer["prompt_id"])


async def history_of(client: Any, prompt_id: str, seconds: float = 60) -> dict[str, Any]:
    for _ in range(int(seconds / 0.05)):
        body = await (await client.get(f"/history/{prompt_id}")).json()
        if body:
            return body[prompt_id]  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"prompt {prompt_id} did not finish in {seconds} s")


async def run_and_listen(client: Any, prompt: dict[str, Any], client_id: str) -> list[dict[str, Any]]:
    """Every message the prompt's client receives, from its status on connect to ``executing {node: null}``."""
    ws = await client.ws_connect(f"/ws?clientId={client_id}")
    messages = [await ws.receive_json()]
    prompt_id = await post(client, prompt, client_id=client_id)
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), 60)
        messages.append(msg)
        if msg["type"] == "executing" and msg["data"]["node"] is None and msg["data"].get("prompt_id") == prompt_id:
            await ws.close()
            return messages
