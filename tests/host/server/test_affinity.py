"""host/server/affinity.py: which idle worker a prompt goes to."""

from __future__ import annotations

from host.server.affinity import choose, held, model_files, node_keys


class Held:
    """A worker as choose() sees it: its name, loaded files and last prompt's nodes."""

    def __init__(self, name: str, files: list[str], recent: set[str] | None = None) -> None:
        self.name, self.files, self._recent = name, files, recent or set()

    def holds(self) -> list[str]:
        return self.files

    def recent(self) -> set[str]:
        return self._recent


def ckpt_prompt(name: str) -> dict:
    return {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": name}},
            "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}}


def test_model_files_are_the_weights_a_prompt_names() -> None:
    prompt = ckpt_prompt("sd15/a.safetensors") | {"6": {"class_type": "LoraLoader", "inputs": {
        "lora_name": "style.pt", "model": ["4", 0], "strength_model": 1.0}},
        "7": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x.png"}}}
    assert model_files(prompt) == {"sd15/a.safetensors", "style.pt"}


def test_held_matches_relative_names_against_loaded_paths() -> None:
    loaded = ["/m/checkpoints/sd15/a.safetensors", "/m/loras/style.pt"]
    assert held({"sd15/a.safetensors", "style.pt", "b.safetensors"}, loaded) == 2
    assert held({"a.safetensors"}, ["/m/checkpoints/sd15/aa.safetensors"]) == 0


def test_choose_prefers_the_worker_holding_the_model() -> None:
    a, b = Held("a", []), Held("b", ["/m/checkpoints/b.safetensors"])
    assert choose([a, b], ckpt_prompt("b.safetensors")) is b
    assert choose([a, b], ckpt_prompt("a.safetensors")) is a  # nobody holds it: pool order


def test_choose_then_prefers_cached_nodes_then_the_least_used() -> None:
    prompt = ckpt_prompt("x.safetensors")
    a, b = Held("a", []), Held("b", [], node_keys(prompt))
    assert choose([a, b], prompt) is b
    c, d = Held("c", []), Held("d", [])
    assert choose([c, d], prompt, {"c": 3, "d": 1}) is d
