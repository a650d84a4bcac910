"""UI-format workflows (what the web frontend saves) converted to API prompts as the frontend converts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from ui_workflows import image_workflow, inp, node

from host.cli import main
from host.registry import Registry
from host.ui_workflow import UIWorkflowError, is_ui_workflow, to_prompt, widget_values

pytestmark = pytest.mark.timeout(60)


def test_links_widgets_reroutes_primitives_bypass_and_mute(registry: Registry) -> None:
    prompt = to_prompt(image_workflow(), registry.object_info())
    assert set(prompt) == {"1", "4"}
    assert prompt["1"]["inputs"] == {"width": 48, "height": 32, "batch_size": 1, "color": 255}
    assert prompt["4"]["inputs"] == {"filename_prefix": "ui", "images": ["1", 0]}
    assert prompt["4"]["class_type"] == "SaveImage" and prompt["4"]["_meta"]["title"] == "Save Image"


def test_seed_widgets_carry_a_control_value() -> None:
    info = {"input": {"required": {"seed": ["INT", {"default": 0}], "steps": ["INT", {}],
                                   "sampler": [["euler", "ddim"], {}], "model": ["MODEL", {}],
                                   "n": ["INT", {"control_after_generate": True}],
                                   "s": ["STRING", {"forceInput": True}]}}}
    values = widget_values({"widgets_values": [42, "randomize", 20, "ddim", 7, "fixed"]}, info)
    assert values == {"seed": 42, "steps": 20, "sampler": "ddim", "n": 7}
    assert widget_values({"widgets_values": {"steps": 3, "other": 1}}, info) == {"steps": 3}


def test_subgraphs_are_flattened(registry: Registry) -> None:
    inner = {"id": "sg-1", "nodes": [node(1, "ImageInvert", [], [inp("image", "IMAGE", 1)])],
             "links": [{"id": 1, "origin_id": -10, "origin_slot": 0, "target_id": 1, "target_slot": 0, "type": "IMAGE"},
                       {"id": 2, "origin_id": 1, "origin_slot": 0, "target_id": -20, "target_slot": 0,
                        "type": "IMAGE"}]}
    workflow = {"nodes": [node(1, "EmptyImage", [8, 8, 1, 0]), node(5, "sg-1", [], [inp("image", "IMAGE", 1)]),
                          node(6, "SaveImage", ["sg"], [inp("images", "IMAGE", 2)])],
                "links": [[1, 1, 0, 5, 0, "IMAGE"], [2, 5, 0, 6, 0, "IMAGE"]], "definitions": {"subgraphs": [inner]}}
    prompt = to_prompt(workflow, registry.object_info())
    assert set(prompt) == {"1", "5:1", "6"}
    assert prompt["5:1"]["inputs"] == {"image": ["1", 0]}
    assert prompt["6"]["inputs"]["images"] == ["5:1", 0]


def test_unknown_nodes_and_dangling_links_are_reported(registry: Registry) -> None:
    workflow = {"nodes": [node(1, "NoSuchNode"), node(4, "SaveImage", ["x"], [inp("images", "IMAGE", 9)])],
                "links": [[9, 3, 0, 4, 0, "IMAGE"]]}
    with pytest.raises(UIWorkflowError) as err:
        to_prompt(workflow, registry.object_info())
    assert err.value.problems == ["node 1: unknown node type 'NoSuchNode'",
                                  "node 4 input 'images': linked to node 3, which does not exist"]
    assert is_ui_workflow(workflow) and not is_ui_workflow({"1": {"class_type": "X", "inputs": {}}})


def test_nodehost_run_takes_a_ui_workflow(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(image_workflow()))
    out = tmp_path / "out"
    assert main(["run", str(path), "--output-directory", str(out), "--extensions-dir", str(tmp_path / "none")]) == 0
    assert [p.name for p in out.iterdir()] == ["ui_00001_.png"]
    with Image.open(out / "ui_00001_.png") as saved:  # the workflow goes in as extra_pnginfo, as the frontend's does
        assert json.loads(saved.text["workflow"]) == image_workflow()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nodes": [node(1, "NoSuchNode")], "links": []}))
    assert main(["run", str(bad), "--extensions-dir", str(tmp_path / "none")]) == 2
    assert "unknown node type 'NoSuchNode'" in capsys.readouterr().err


GROUP_NODES = Path(__file__).parent / "ui_group_nodes"


@pytest.mark.parametrize("name", ["mixed", "widgets"])
def test_legacy_group_nodes_expand_as_the_frontend_expands_them(registry: Registry, name: str) -> None:
    """Workflows with legacy group nodes (extra.groupNodes) saved by the real frontend, and the prompt its
    graphToPrompt made for them: NAME.js built each graph on the page (Convert to Group Node, group widgets
    edited) and NAME.json holds what the page then saved and queued."""
    saved = json.loads((GROUP_NODES / f"{name}.json").read_text())
    assert saved["workflow"]["extra"]["groupNodes"]
    assert to_prompt(saved["workflow"], registry.object_info()) == saved["prompt"]


def test_group_node_widgets_inputs_and_outputs_map_to_inner_nodes(registry: Registry) -> None:
    saved = json.loads((GROUP_NODES / "mixed.json").read_text())
    prompt = to_prompt(saved["workflow"], registry.object_info())
    [group] = [n for n in saved["workflow"]["nodes"] if n["type"] == "workflow>Mixed"]
    gid = str(group["id"])
    assert group["widgets_values"] == [1234, "fixed", "nearest-exact", 1.5]  # noise_seed+control, then ImageScaleBy
    assert prompt[f"{gid}:0"] == {"inputs": {"noise_seed": 1234}, "class_type": "RandomNoise",
                                  "_meta": {"title": "RandomNoise"}}
    assert prompt[f"{gid}:3"]["inputs"] == {"upscale_method": "nearest-exact", "scale_by": 1.5,
                                            "image": [f"{gid}:2", 0]}
    assert prompt[f"{gid}:2"]["inputs"] == {"image1": [f"{gid}:1", 0], "image2": ["2", 0]}  # group input 2
    saves = {k: v["inputs"]["images"] for k, v in prompt.items() if v["class_type"] == "SaveImage"}
    assert sorted(saves.values()) == [[f"{gid}:1", 0], [f"{gid}:3", 0]]  # inner outputs used outside


def test_a_group_node_with_an_unknown_inner_type_is_reported(registry: Registry) -> None:
    saved = json.loads((GROUP_NODES / "mixed.json").read_text())
    saved["workflow"]["extra"]["groupNodes"]["Mixed"]["nodes"][0]["type"] = "NoSuchNode"
    with pytest.raises(UIWorkflowError, match="inner node 0 has unknown node type 'NoSuchNode'"):
        to_prompt(saved["workflow"], registry.object_info())
