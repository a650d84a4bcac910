"""The server in-process (aiohttp test client): /prompt, /ws message sequence, queue, history, routes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.registry import Registry
from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def client(registry: Registry, paths):
    app = build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir))
    async with TestClient(TestServer(app)) as c:
        yield c


def invert_prompt(prefix: str = "t") -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
            "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}}}


async def receive_until_done(ws, prompt_id: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), 20)
        messages.append(msg)
        if msg["type"] == "executing" and msg["data"]["node"] is None and msg["data"].get("prompt_id") == prompt_id:
            return messages


async def test_websocket_message_sequence_matches_comfyui(client: TestClient) -> None:
    ws = await client.ws_connect("/ws?clientId=abc")
    hello = await ws.receive_json()
    assert hello == {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "abc"}}
    resp = await client.post("/prompt", json={"prompt": invert_prompt(), "client_id": "abc"})
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"prompt_id", "number", "node_errors"} and body["node_errors"] == {}
    messages = await receive_until_done(ws, body["prompt_id"])
    kinds = [m["type"] for m in messages]
    # COMPAT §2.3, observed: status(put) -> status(get) -> execution_start -> execution_cached -> per node
    # [progress_state(running) -> executing -> executed? -> progress_state(finished)] -> execution_success ->
    # status(q=0) -> executing{node: null}. progress_state snapshots are complete, so a burst of updates may be
    # folded into one (the client always ends with the latest state): compare the rest exactly.
    others = [k for k in kinds if k != "progress_state"]
    assert others == ["status", "status", "execution_start", "execution_cached", "executing", "executing",
                      "executing", "executed", "execution_success", "status", "executing"]
    assert kinds.index("progress_state") < kinds.index("executing")  # the running state comes first
    last_state = [m for m in messages if m["type"] == "progress_state"][-1]["data"]
    assert kinds.index("execution_success") > max(i for i, k in enumerate(kinds) if k == "progress_state")
    assert {n: v["state"] for n, v in last_state["nodes"].items()} == {"1": "finished", "2": "finished",
                                                                      "3": "finished"}
    assert messages[-2]["data"]["status"]["exec_info"]["queue_remaining"] == 0
    executed = next(m for m in messages if m["type"] == "executed")["data"]
    assert executed["node"] == "3" and executed["output"]["images"][0]["filename"] == "t_00001_.png"
    await ws.close()


async def test_history_is_written_before_the_end_signal(client: TestClient) -> None:
    ws = await client.ws_connect("/ws?clientId=c1")
    await ws.receive_json()
    prompt = invert_prompt("h")
    resp = await client.post("/api/prompt", json={"prompt": prompt, "client_id": "c1", "prompt_id": "my-id",
                                                  "extra_data": {"api_key_comfy_org": "secret"}})
    assert (await resp.json())["prompt_id"] == "my-id"
    await receive_until_done(ws, "my-id")
    history = await (await client.get("/history/my-id")).json()
    item = history["my-id"]
    assert item["prompt"][1] == "my-id" and item["prompt"][2] == prompt  # kept exactly as submitted
    assert "api_key_comfy_org" not in item["prompt"][3]
    assert item["status"]["status_str"] == "success" and item["status"]["completed"] is True
    assert [m[0] for m in item["status"]["messages"]] == ["execution_start", "execution_cached", "execution_success"]
    assert item["outputs"]["3"]["images"][0]["type"] == "output"
    assert await (await client.get("/history/nope")).json() == {}
    assert list(await (await client.get("/api/history?max_items=1")).json()) == ["my-id"]
    await ws.close()


async def test_prompt_without_client_still_runs(client: TestClient) -> None:
    resp = await client.post("/prompt", data='{"prompt": ' + __import__("json").dumps(invert_prompt("n")) + "}",
                             headers={"Content-Type": "text/plain"})
    prompt_id = (await resp.json())["prompt_id"]
    for _ in range(200):
        if await (await client.get(f"/history/{prompt_id}")).json():
            break
        await asyncio.sleep(0.02)
    assert (await (await client.get(f"/history/{prompt_id}")).json())[prompt_id]["status"]["status_str"] == "success"


async def test_bad_requests_are_clear_400s(client: TestClient) -> None:
    resp = await client.post("/prompt", data="{not json")
    assert resp.status == 400 and (await resp.json())["error"]["type"] == "invalid_request"
    resp = await client.post("/prompt", json={"client_id": "x"})
    assert resp.status == 400 and (await resp.json())["error"]["type"] == "no_prompt"
    resp = await client.post("/prompt", json={"prompt": {"1": {"class_type": "Nope", "inputs": {}}}})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["type"] == "invalid_prompt" and body["node_errors"] == {}
    resp = await client.post("/prompt", json={"prompt": {"1": {"class_type": "SaveImage", "inputs": {}}}})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["type"] == "prompt_outputs_failed_validation"
    assert body["node_errors"]["1"]["class_type"] == "SaveImage"
    resp = await client.post("/prompt", json=[1, 2])
    assert resp.status == 400
    assert (await client.get("/history?max_items=abc")).status == 400
    assert (await client.get("/prompt")).status == 200  # healthy after


async def test_queue_routes_and_numbers(client: TestClient) -> None:
    first = await (await client.post("/prompt", json={"prompt": invert_prompt("q")})).json()
    second = await (await client.post("/prompt", json={"prompt": invert_prompt("q"), "front": True})).json()
    assert second["number"] < 0 < first["number"]
    queue = await (await client.get("/queue")).json()
    assert set(queue) == {"queue_running", "queue_pending"}
    for entry in queue["queue_running"] + queue["queue_pending"]:
        assert len(entry) == 5
    assert (await client.post("/queue", json={"clear": True})).status == 200
    assert (await client.post("/interrupt", data="not json")).status == 200
    assert (await client.post("/api/interrupt", json={"prompt_id": "other"})).status == 200
    exec_info = await (await client.get("/api/prompt")).json()
    assert "queue_remaining" in exec_info["exec_info"]


async def test_object_info_and_features(client: TestClient) -> None:
    info = await (await client.get("/object_info")).json()
    assert "ImageInvert" in info and info["ImageInvert"]["display_name"] == "Invert Image"
    assert list(await (await client.get("/api/object_info/SaveImage")).json()) == ["SaveImage"]
    assert await (await client.get("/object_info/Nope")).json() == {}
    features = await (await client.get("/features")).json()
    assert features["supports_preview_metadata"] is True


async def test_feature_flags_negotiation(client: TestClient) -> None:
    ws = await client.ws_connect("/ws")
    hello = await ws.receive_json()
    assert hello["type"] == "status" and len(hello["data"]["sid"]) == 32
    await ws.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
    reply = await asyncio.wait_for(ws.receive_json(), 5)
    assert reply["type"] == "feature_flags" and reply["data"]["max_upload_size"] == 104857600
    await ws.close()
