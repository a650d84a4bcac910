"""``nodehost run``'s progress: tqdm bars per node and per sampling step on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from host.cli_progress import PlainLines, ProgressBars, display_for
from host.executor.events import Executed, Executing, ExecutionCached, Progress

PROMPT = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny.safetensors"}},
          "2": {"class_type": "KSampler", "inputs": {}}, "3": {"class_type": "SaveImage", "inputs": {}}}


def events() -> list:
    return [ExecutionCached(nodes=["1"], prompt_id="p", timestamp=0),
            Executing(node="2", display_node="2", prompt_id="p"),
            *[Progress(value=i, max=3, prompt_id="p", node="2") for i in (1, 2, 3)],
            Executing(node="3", display_node="3", prompt_id="p"),
            Executed(node="3", display_node="3", output={"images": [{"filename": "x.png"}]}, prompt_id="p"),
            Executing(node=None, display_node=None, prompt_id="p")]


def test_plain_lines_name_each_node_its_steps_and_outputs() -> None:
    out = io.StringIO()
    display = PlainLines(PROMPT, out)
    for event in events():
        display.emit(event)
    lines = out.getvalue().splitlines()
    assert lines == ["running node 2 (KSampler)", "  node 2 (KSampler) step 1/3", "  node 2 (KSampler) step 2/3",
                     "  node 2 (KSampler) step 3/3", "running node 3 (SaveImage)",
                     '  node 3 produced {"images": [{"filename": "x.png"}]}']


def test_bars_count_nodes_cached_ones_included_and_steps() -> None:
    out = io.StringIO()
    display = ProgressBars(PROMPT, out)
    for event in events():
        display.emit(event)
    assert display.nodes.n == 3 and display.steps is None  # the cached loader, KSampler and SaveImage
    display.close()
    text = out.getvalue()
    assert "1 cached" in text and "node 2 KSampler" in text
    assert "KSampler:  33%" in text and "2/3" in text and "3/3 [" in text  # one redraw per step
    assert 'node 3 (SaveImage) produced {"images": [{"filename": "x.png"}]}' in text


def test_a_new_node_s_steps_get_their_own_bar() -> None:
    display = ProgressBars(PROMPT, io.StringIO())
    display.emit(Executing(node="2", display_node="2", prompt_id="p"))
    display.emit(Progress(value=5, max=10, prompt_id="p", node="2"))
    first = display.steps
    display.emit(Progress(value=1, max=4, prompt_id="p", node="3"))
    assert display.steps is not first and display.steps.total == 4 and display.steps.n == 1
    display.close()


def test_bars_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert type(display_for(PROMPT, Tty())) is ProgressBars
    assert type(display_for(PROMPT, io.StringIO())) is PlainLines


def sampling_prompt() -> dict:
    return {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny.safetensors"}},
            "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["1", 1]}},
            "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "4": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["2", 0],
                                                       "latent_image": ["3", 0], "seed": 1, "steps": 3, "cfg": 7.0,
                                                       "sampler_name": "euler", "scheduler": "normal",
                                                       "denoise": 1.0}},
            "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
            "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "bars"}}}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("base")
    subprocess.run([sys.executable, "-m", "host.models.testing.make_checkpoint", "--family", "sd15", "--size",
                    "small", "--out", str(base / "models" / "checkpoints" / "tiny.safetensors")],
                   check=True, timeout=300)
    (base / "prompt.json").write_text(json.dumps(sampling_prompt()))
    return base


def run_cli(base: Path, terminal: bool) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "host.cli", "run", str(base / "prompt.json"), "--base-directory", str(base),
           "--cpu"]
    if not terminal:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=base)
        return done.returncode, done.stdout + done.stderr
    main, child = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=child, stderr=child, cwd=base,
                            env={**os.environ, "COLUMNS": "120"})
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 240)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return proc.wait(timeout=30), b"".join(chunks).decode(errors="replace")


@pytest.mark.timeout(300)
def test_run_on_a_terminal_draws_node_and_step_bars(base: Path) -> None:
    rc, text = run_cli(base, terminal=True)
    assert rc == 0, text
    assert "node 4 KSampler" in text and "/6 [" in text  # the nodes bar over the prompt's six nodes
    assert "KSampler: 100%" in text and "3/3 [" in text
    assert "running node" not in text  # bars, not the plain lines
    assert "outputs:" in text and "bars_00001_.png" in text


@pytest.mark.timeout(300)
def test_run_into_a_pipe_prints_plain_step_lines(base: Path) -> None:
    rc, text = run_cli(base, terminal=False)
    assert rc == 0, text
    assert "running node 4 (KSampler)" in text
    assert [line for line in text.splitlines() if "step" in line] == [
        f"  node 4 (KSampler) step {i}/3" for i in (1, 2, 3)]
    assert "\r" not in text and "%|" not in text
