"""Progress during a run, in the official frontend in real Chromium against ``nodehost serve``: the default
workflow (a small random checkpoint) queued with the Run button, its KSampler taking several steps. The page's api
object dispatches a ``progress`` message per step for the KSampler node, the canvas draws that node's progress bar
(LGraphNode.drawProgressBar with the fraction done), the jobs panel under the Run button shows "Current node:
KSampler 13%" and the browser tab's title the node's percentage (``[38%] KSampler``), as against ComfyUI.
Screenshots in tmp."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from browser.canvas_steps import run_from_page, wait_history

pytestmark = pytest.mark.timeout(240)

STEPS = 8

#: what the page saw while the prompt ran: the api's progress messages, the progress bars the canvas drew, the
#: tab titles it showed
RECORD = """() => {
    const seen = window.__progress = {messages: [], bars: [], titles: []};
    window.comfyAPI.api.api.addEventListener('progress', ({detail}) => seen.messages.push(detail));
    const proto = window.LiteGraph.LGraphNode.prototype, draw = proto.drawProgressBar;
    proto.drawProgressBar = function (ctx) {
        if (this.progress) seen.bars.push([String(this.id), this.progress]);
        return draw.call(this, ctx);
    };
    new MutationObserver(() => seen.titles.push(document.title))
        .observe(document.querySelector('title'), {childList: true, subtree: true, characterData: true});
}"""


def test_progress_shows_while_the_sampler_runs(open_page: Any, console: Any, quiet_served: Any,
                                               tmp_path: Path) -> None:
    served = quiet_served
    checkpoints = served.root / "models" / "checkpoints"
    checkpoints.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "host.models.testing.make_checkpoint", "--family", "sd15", "--size",
                    "small", "--out", str(checkpoints / "tiny.safetensors")], check=True, timeout=120)
    page = open_page(served, console, tmp_path / "1-loaded.png")
    page.evaluate("() => window.app.loadGraphData()")  # the frontend's own default workflow
    sampler = page.evaluate(f"""() => {{
        const set = (type, name, value) => {{
            for (const n of window.app.graph._nodes.filter(n => n.type === type))
                n.widgets.find(w => w.name === name).value = value;
        }};
        set('CheckpointLoaderSimple', 'ckpt_name', 'tiny.safetensors');
        set('EmptyLatentImage', 'width', 128); set('EmptyLatentImage', 'height', 128);
        set('KSampler', 'steps', {STEPS});
        const ks = window.app.graph._nodes.find(n => n.type === 'KSampler');
        const ds = window.app.canvas.ds;  // the sampler in view
        ds.offset[0] = 400 - ks.pos[0]; ds.offset[1] = 300 - ks.pos[1];
        window.app.canvas.setDirty(true, true);
        return String(ks.id);
    }}""")
    page.evaluate(RECORD)
    page.screenshot(path=str(tmp_path / "2-graph.png"))
    run_from_page(page)
    # while it samples: its bar drawn on the canvas (a screenshot of it for whoever reads a failure)
    page.wait_for_function("(id) => (window.app.graph.getNodeById(Number(id)).progress || 0) > 0", arg=sampler,
                           timeout=120_000, polling="raf")
    # the jobs panel under the Run button: "Current node: KSampler 13%"
    panel = page.wait_for_function("""() => {
        const m = document.body.innerText.match(/Current node:\\s*KSampler\\s*(\\d+)%/);
        return m && Number(m[1]) > 0 && Number(m[1]);
    }""", timeout=60_000, polling="raf").json_value()
    page.screenshot(path=str(tmp_path / "3-sampling.png"))
    [entry] = wait_history(served, timeout=120).values()
    assert entry["status"]["status_str"] == "success", entry["status"]
    page.screenshot(path=str(tmp_path / "4-done.png"))
    seen = page.evaluate("() => window.__progress")

    steps = [m for m in seen["messages"] if m["node"] == sampler]
    assert [m["value"] for m in steps] == list(range(1, STEPS + 1)), seen["messages"]
    assert {m["max"] for m in steps} == {STEPS} and {m["prompt_id"] for m in steps} == {entry["prompt"][1]}
    drawn = [p for node, p in seen["bars"] if node == sampler]
    assert drawn and all(0 < p <= 1 for p in drawn), seen["bars"]
    assert any(p < 1 for p in drawn), drawn  # drawn while it sampled, not only at its last step
    shown = [int(m.group(1)) for t in seen["titles"] if (m := re.search(r"\[(\d+)%\] KSampler", t))]
    assert any(0 < pct < 100 for pct in shown), seen["titles"]
    assert panel in {int(100 * k / STEPS + 0.5) for k in range(1, STEPS + 1)}, panel  # k steps of 8, as shown
    assert page.evaluate("(id) => window.app.graph.getNodeById(Number(id)).progress", sampler) is None  # cleared
    assert console.unexpected() == [], console.unexpected()
