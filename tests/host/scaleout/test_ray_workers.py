"""``--workers ray`` on a local Ray cluster with two CPU workers (conftest.py): prompts at once on both,
routing to the worker holding the model, the WebSocket sequence of in-process, files through the object store,
queue order and interrupt."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import pytest
from scaleout_helpers import history_of, post, run_and_listen

from host.scaleout.files import listing

pytestmark = [pytest.mark.ray, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]


def who(tag: int, seconds: float = 0.0, **inputs: Any) -> dict[str, Any]:
    return {"1": {"class_type": "WhoAmI", "inputs": {"tag": tag, "seconds": seconds, **inputs}}}


def invert(prefix: str) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
            "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}}}


async def test_two_workers_run_two_prompts_at_once(served) -> None:
    ids = [await post(served.client, who(i, 1.5)) for i in (1, 2)]
    entries = [await history_of(served.client, i) for i in ids]
    assert [e["status"]["status_str"] for e in entries] == ["success", "success"]
    outs = [e["outputs"]["1"] for e in entries]
    assert outs[0]["pid"] != outs[1]["pid"]  # two worker processes
    (a0, a1), (b0, b1) = outs[0]["span"], outs[1]["span"]
    assert a0 < b1 and b0 < a1  # and their runs overlapped


async def test_a_prompt_goes_to_the_worker_holding_its_checkpoint(served, checkpoint) -> None:
    loader = {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}}}
    first = await history_of(served.client, await post(served.client, loader | who(10, model=["4", 0])))
    assert first["status"]["status_str"] == "success", first["status"]
    holder = first["outputs"]["1"]["pid"]
    # the other worker has run fewer prompts now, so without affinity the next one would go there
    for tag in (11, 12):
        entry = await history_of(served.client, await post(served.client, loader | who(tag, model=["4", 0])))
        assert entry["outputs"]["1"]["pid"] == holder, [(w.name, w.holds()) for w in served.state.pool.workers]


async def test_websocket_sequence_equals_in_process(served, registry_in_process) -> None:
    ray_messages = await run_and_listen(served.client, invert("seq"), "wsray")
    local_messages = await run_and_listen(registry_in_process, invert("seq"), "wslocal")
    assert shape(ray_messages) == shape(local_messages)
    executed = next(m for m in ray_messages if m["type"] == "executed")["data"]
    assert executed["output"]["images"][0]["filename"] == "seq_00001_.png"


def shape(messages: list[dict[str, Any]]) -> list[Any]:
    """The messages without what differs between two runs (ids, times) or may be folded (progress_state)."""
    out = []
    for m in messages:
        if m["type"] == "progress_state":
            continue
        data = {k: v for k, v in m["data"].items() if k not in ("prompt_id", "timestamp", "sid")}
        out.append((m["type"], data))
    return out


async def test_output_image_written_on_a_worker_is_served_by_view(served) -> None:
    entry = await history_of(served.client, await post(served.client, invert("view")))
    image = entry["outputs"]["3"]["images"][0]
    resp = await served.client.get("/view", params={"filename": image["filename"], "type": "output"})
    assert resp.status == 200 and (await resp.read())[:8] == b"\x89PNG\r\n\x1a\n"
    assert (served.base / "output" / image["filename"]).is_file()


async def test_uploaded_input_reaches_the_worker(served) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (5, 3), (10, 200, 30)).save(buf, format="PNG")
    form = aiohttp.FormData()
    form.add_field("image", buf.getvalue(), filename="up.png", content_type="image/png")
    assert (await (await served.client.post("/upload/image", data=form)).json())["name"] == "up.png"
    prompt = {"5": {"class_type": "LoadImage", "inputs": {"image": "up.png"}}} | who(20, image=["5", 0])
    entry = await history_of(served.client, await post(served.client, prompt))
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["outputs"]["1"]["shape"] == [1, 3, 5, 3]
    assert listing(served.base / "input") == {"up.png": listing(served.base / "input")["up.png"]}


async def test_queue_order_front_delete_and_interrupt(served) -> None:
    client = served.client
    busy = [await post(client, who(30 + i, 30)) for i in range(2)]  # both workers busy until interrupted
    await until(lambda q: len(q["queue_running"]) == 2, client)
    later = await post(client, who(40))
    gone = await post(client, who(41))
    first = await post(client, who(42), front=True)
    queue = await (await client.get("/queue")).json()
    assert sorted(i[1] for i in queue["queue_running"]) == sorted(busy)
    assert [i[1] for i in sorted(queue["queue_pending"])] == [first, later, gone]
    await client.post("/queue", json={"delete": [gone]})
    await client.post("/interrupt", json={"prompt_id": busy[1]})  # one prompt, on whichever worker runs it
    stopped = await history_of(client, busy[1])
    assert stopped["status"]["messages"][-1][0] == "execution_interrupted"
    assert (await history_of(client, first))["status"]["status_str"] == "success"  # the front one ran next
    await client.post("/interrupt", json={})
    assert (await history_of(client, busy[0]))["status"]["messages"][-1][0] == "execution_interrupted"
    await history_of(client, later)
    assert gone not in await (await client.get("/history")).json()
    history = await (await client.get("/history")).json()
    order = [pid for pid in history if pid in (first, later)]
    assert order == [first, later]


async def until(check: Any, client: Any) -> None:
    for _ in range(600):
        if check(await (await client.get("/queue")).json()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the queue never got there")


async def test_metrics_per_worker(served) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    await history_of(served.client, await post(served.client, who(50)))
    text = await (await served.client.get("/metrics")).text()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for family in text_string_to_metric_families(text) for s in family.samples}
    workers = {dict(labels)["worker"] for name, labels in got if name == "nodehost_shared_memory_bytes"}
    assert workers == {"ray-0", "ray-1"}
    assert got[("nodehost_workers", (("state", "ready"),))] == 2
    done = sum(v for (name, labels), v in got.items()
               if name == "nodehost_prompts_total" and dict(labels)["outcome"] == "success")
    assert done >= 1 and got[("nodehost_node_duration_seconds_count", (("class_type", "WhoAmI"),))] >= 1


async def test_a_pack_message_between_prompts_reaches_the_websocket(served) -> None:
    """A pack's send_sync on a worker while no prompt runs there (a route handler, a thread) goes through the
    worker's messages stream; it was dropped before. The actor's emit is what its packs' runners call."""
    from host.scaleout.spec import PackMessage

    ws = await served.client.ws_connect("/ws?clientId=between")
    try:
        await ws.receive_json(timeout=10)  # status
        for worker in served.state.pool.workers:
            assert worker.running is None
        worker = served.state.pool.workers[0]
        await worker.handle.emit.remote(PackMessage("demo.between", {"n": 1}, None))
        await worker.handle.emit.remote(PackMessage("demo.between", {"n": 2}, "between"))
        got = []
        while len(got) < 2:
            msg = await ws.receive_json(timeout=20)
            if msg["type"] == "demo.between":
                got.append(msg["data"]["n"])
        assert got == [1, 2]
    finally:
        await ws.close()


async def test_two_workers_saving_one_prefix_at_once_make_two_files(served) -> None:
    """Each worker numbers its saves in its own folder, so both name theirs ``clash_00001_.png``: the server
    lands the second under the next number and the prompt's history and /view name its own bytes."""
    from PIL import Image

    def saving(color: int, tag: int) -> dict[str, Any]:
        return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                             "color": color}},
                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "clash"}},
                "3": who(tag, 1.5)["1"]}  # both workers busy at once

    colors = {0xFF0000: (255, 0, 0), 0x0000FF: (0, 0, 255)}
    prompts = [saving(color, 60 + i) for i, color in enumerate(colors)]
    ids = [await post(served.client, p) for p in prompts]
    entries = [await history_of(served.client, i) for i in ids]
    assert [e["status"]["status_str"] for e in entries] == ["success", "success"]
    assert entries[0]["outputs"]["3"]["pid"] != entries[1]["outputs"]["3"]["pid"]  # on two workers
    names = [e["outputs"]["2"]["images"][0]["filename"] for e in entries]
    assert sorted(names) == ["clash_00001_.png", "clash_00002_.png"]
    assert sorted(p.name for p in (served.base / "output").glob("clash_*")) == sorted(names)
    for name, rgb in zip(names, colors.values(), strict=True):
        resp = await served.client.get("/view", params={"filename": name, "type": "output"})
        assert resp.status == 200
        assert Image.open(io.BytesIO(await resp.read())).convert("RGB").getpixel((0, 0)) == rgb
    # the first again: its worker's cache answers, its SaveImage's executed names the file it saved: not a new one
    again = await history_of(served.client, await post(served.client, prompts[0]))
    cached = next(m[1]["nodes"] for m in again["status"]["messages"] if m[0] == "execution_cached")
    assert "2" in cached and again["outputs"]["2"]["images"][0]["filename"] == names[0]
    assert len(list((served.base / "output").glob("clash_*"))) == 2
