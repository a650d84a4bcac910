"""host/ui_workflow.py against the real frontend: a UI workflow loaded into the page and turned into a prompt by
its own ``graphToPrompt`` gives the prompt nodehost's converter gives for the workflow the page saves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ui_workflows import image_workflow

from host.server import frontend
from host.ui_workflow import to_prompt

pytestmark = pytest.mark.timeout(180)


def frontend_prompt(page: Any, workflow: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    page.evaluate("(w) => window.app.loadGraphData(w)", workflow)
    page.wait_for_timeout(300)
    result = page.evaluate("async () => { const r = await window.app.graphToPrompt(); "
                           "return {workflow: r.workflow, output: r.output}; }")
    return result["workflow"], result["output"]


def test_converter_matches_graph_to_prompt(page: tuple[Any, Any], served: Any) -> None:
    p, _ = page
    info = served.get("/object_info")
    saved, expected = frontend_prompt(p, image_workflow())
    assert to_prompt(saved, info) == expected
    assert set(expected) == {"1", "4"} and expected["4"]["inputs"]["images"] == ["1", 0]


def test_converter_matches_graph_to_prompt_for_the_page_s_own_graph(page: tuple[Any, Any], served: Any) -> None:
    p, _ = page
    info = served.get("/object_info")
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 8, "batch_size": 2, "color": 3}},
              "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "StringConcatenate", "inputs": {"string_a": "a", "string_b": "b", "delimiter": "-"}},
              "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}}}
    p.evaluate("(prompt) => window.app.loadApiJson(prompt, 'p.json')", prompt)
    p.wait_for_timeout(300)
    result = p.evaluate("async () => { const r = await window.app.graphToPrompt(); "
                        "return {workflow: r.workflow, output: r.output}; }")
    assert to_prompt(result["workflow"], info) == result["output"]
    assert {k: v["inputs"] for k, v in result["output"].items()} == {k: v["inputs"] for k, v in prompt.items()}


#: node types the frontend defines itself (never in /object_info): graphToPrompt drops or resolves them
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}


def runnable_templates(info: dict[str, Any]) -> list[Path]:
    """The templates package's workflows whose every node type nodehost registers (subgraphs' inner nodes too)."""
    found = []
    for folder in frontend.templates_dirs():
        for path in sorted(folder.glob("*.json")):
            workflow = json.loads(path.read_text())
            if not isinstance(workflow, dict) or "nodes" not in workflow:
                continue  # index.json and friends
            subgraphs = workflow.get("definitions", {}).get("subgraphs", [])
            types = {n["type"] for n in workflow["nodes"]} | {n["type"] for s in subgraphs for n in s.get("nodes", [])}
            if not types - set(info) - FRONTEND_ONLY - {s["id"] for s in subgraphs}:
                found.append(path)
    return found


def test_templates_package_workflows_convert_as_the_frontend_converts_them(page: tuple[Any, Any],
                                                                          served: Any) -> None:
    p, _ = page
    info = served.get("/object_info")
    templates = runnable_templates(info)
    assert {t.name for t in templates} >= {"default.json", "sdxl_simple_example.json",
                                           "sdxl_refiner_prompt_example.json", "sdxlturbo_example.json"}
    for path in templates:
        workflow = json.loads(path.read_text())
        saved, expected = frontend_prompt(p, workflow)
        assert expected, path.name
        assert to_prompt(workflow, info) == expected, path.name  # the file as it ships: what `nodehost run` gets
        assert to_prompt(saved, info) == expected, path.name  # and as the page saves it again
