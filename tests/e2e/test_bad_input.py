"""Bad input is a clear node error naming the file, and the next prompt still runs: a truncated safetensors file,
an unknown architecture, a .ckpt carrying pickled code, a missing file, a latent of the wrong channel count, an
interrupt mid-sampling."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from e2e.helpers import CHECKPOINT, Host, txt2img

from host.executor.errors import ValidationFailed
from host.executor.events import Progress
from host.executor.worker import ExecutorThread

pytestmark = pytest.mark.timeout(300)


def checkpoints(host: Host) -> Path:
    return host.base / "models" / "checkpoints"


def fails_naming(host: Host, name: str, prompt_id: str) -> dict[str, Any]:
    result = host.run(txt2img(ckpt=name, steps=1), prompt_id)
    assert result.status == "error"
    assert result.error["node_id"] == "1" and name in result.error["exception_message"]
    assert host.run(txt2img(steps=1, prefix=f"after-{prompt_id}"), f"{prompt_id}-next").status == "success"
    return result.error


def test_truncated_safetensors(host: Host) -> None:
    data = (checkpoints(host) / CHECKPOINT).read_bytes()
    (checkpoints(host) / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    fails_naming(host, "truncated.safetensors", "trunc")


def test_garbage_header(host: Host) -> None:
    (checkpoints(host) / "garbage.safetensors").write_bytes(b"\xff" * 64)
    fails_naming(host, "garbage.safetensors", "garbage")


def test_unknown_architecture(host: Host) -> None:
    from safetensors.torch import save_file

    save_file({"some.other.model.weight": torch.zeros(3, 3)}, str(checkpoints(host) / "other.safetensors"))
    fails_naming(host, "other.safetensors", "unknown")


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.touch, (self.marker,))


def test_pickle_with_code_is_refused(host: Host, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with open(checkpoints(host) / "evil.ckpt", "wb") as f:
        pickle.dump({"state_dict": _Payload(marker)}, f)
    fails_naming(host, "evil.ckpt", "pickle")
    assert not marker.exists()


def test_missing_file_is_named(host: Host) -> None:
    with pytest.raises(ValidationFailed) as info:
        host.run(txt2img(ckpt="nowhere.safetensors"))
    assert "nowhere.safetensors" in str(info.value.node_errors["1"].errors[0].line())
    from builtin_nodes.loaders import loader_classes
    from builtin_nodes.node_env import NodeFolders
    from host.models.manager import ModelFileMissing
    from isolate.context import CURRENT_NODE, NodeContext

    loader = loader_classes(NodeFolders(host.base, host.output, host.output, host.manager.folders))
    token = CURRENT_NODE.set(NodeContext("p", "1", 0, None, host.manager))
    try:
        with pytest.raises(ModelFileMissing, match="nowhere.safetensors"):
            loader["CheckpointLoaderSimple"]().load_checkpoint("nowhere.safetensors")
    finally:
        CURRENT_NODE.reset(token)


def test_wrong_latent_channels(host: Host) -> None:
    prompt = txt2img()
    prompt["9"] = {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}}
    prompt["10"] = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}}
    prompt["11"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["9", 0]}}
    prompt["5"]["inputs"]["latent_image"] = ["11", 0]
    result = host.run(prompt)
    assert result.status == "error" and result.error["node_id"] == "5"
    assert result.error["exception_type"].endswith("LatentChannelsMismatch")
    assert "4-channel" in result.error["exception_message"]


def test_interrupt_mid_sampling_then_the_next_prompt_runs(host: Host) -> None:
    executor = host.executor

    class InterruptingSink:
        def emit(self, event: Any) -> None:
            host.sink.emit(event)
            if isinstance(event, Progress) and event.node == "5" and event.value == 1:
                executor.interrupt()

    executor.sink = InterruptingSink()
    with ExecutorThread() as worker:
        result = worker.call(executor.run(txt2img(steps=6), "int"))
        assert result.status == "interrupted"
        assert [e.value for e in host.sink.of(Progress) if e.node == "5"] == [1]
        assert result.messages[-1][0] == "execution_interrupted"
        executor.sink = host.sink
        assert worker.call(executor.run(txt2img(steps=1, prefix="next"), "next")).status == "success"
