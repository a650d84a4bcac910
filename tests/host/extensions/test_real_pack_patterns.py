"""The gaps that stopped real packs (issue 19's acceptance), each reproduced by a test pack written the way the
real pack is (tests/packs/real): kj_style (ComfyUI-KJNodes: ``app.router.frozen``, ``io.BoundingBox``, an
INPUT_TYPES that lists the input folder before anything created it) and rgthree_style (rgthree-comfy:
``requests`` undeclared, core and ``comfy_extras`` nodes imported by name and called from pack code, a
PreviewImage subclass, Power Puter's undeclared ``code`` input and its ``extra_pnginfo``), plus comfyroll_style
(Comfyroll: an INPUT_TYPES that lists the output folder, one value returned for two outputs, numpy scalars).
They load isolated in their own uv venvs beside the core nodes, every class registers, and a prompt runs their
nodes on small images."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from host.executor.caches import make_cache
from host.executor.events import ListSink
from host.executor.executor import Executor
from host.extensions.loader import PackStatus, load_extensions
from host.folders import ModelFolders
from host.registry import Registry
from isolate.venv import VenvBuilder

ROOT = Path(__file__).resolve().parents[3]
PACKS = ROOT / "tests" / "packs" / "real"

pytestmark = pytest.mark.timeout(300)

KJ_NODES = ["CountFramesKJStyle", "ImageToBoundingBoxKJStyle", "LoadFromInputKJStyle", "PreviewV3KJStyle",
            "ResizeFlipKJStyle", "ShowKJStyle"]
RG_NODES = ["BatchImagesRgStyle", "BatchLatentsRgStyle", "EmptyLatentRgStyle", "EvalRgStyle", "ImageComparerRgStyle",
            "KSamplerConfigRgStyle", "ShowRgStyle"]
#: what a frontend sends with the prompt (EvalRgStyle counts the workflow's nodes)
EXTRA_DATA = {"extra_pnginfo": {"workflow": {"nodes": [{"id": 1}, {"id": 2}]}}}


def prompt() -> dict[str, Any]:
    red = {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 2, "batch_size": 1, "color": 0xFF0000}}
    blue = {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 2, "batch_size": 2, "color": 0x0000FF}}
    return {
        "1": red,
        # grey (0.5) on the left, red on the right: a flip is visible in the first row
        "2": {"class_type": "ImagePadForOutpaint", "inputs": {"image": ["1", 0], "left": 8, "top": 0, "right": 0,
                                                              "bottom": 0, "feathering": 0}},
        "3": {"class_type": "ResizeFlipKJStyle", "inputs": {"image": ["2", 0], "width": 4, "height": 2}},
        "4": {"class_type": "ShowKJStyle", "inputs": {"value": ["3", 0]}},
        "5": {"class_type": "ImageToBoundingBoxKJStyle", "inputs": {"image": ["2", 0]}},
        "6": {"class_type": "ShowKJStyle", "inputs": {"value": ["5", 0]}},
        "7": {"class_type": "CountFramesKJStyle", "inputs": {"image": ["10", 0]}},
        "8": {"class_type": "ShowKJStyle", "inputs": {"value": ["7", 0]}},
        "9": {"class_type": "PreviewV3KJStyle", "inputs": {"image": ["3", 0]}},
        "10": blue,
        "11": {"class_type": "BatchImagesRgStyle", "inputs": {"image1": ["1", 0], "image2": ["10", 0]}},
        "12": {"class_type": "ShowRgStyle", "inputs": {"value": ["11", 0]}},
        "13": {"class_type": "EmptyLatentRgStyle", "inputs": {"width": 64, "height": 32, "batch_size": 2}},
        "14": {"class_type": "ShowRgStyle", "inputs": {"value": ["13", 0]}},
        "15": {"class_type": "ImageComparerRgStyle", "inputs": {"image_a": ["1", 0], "image_b": ["10", 0]}},
        "16": {"class_type": "KSamplerConfigRgStyle", "inputs": {"sampler_name": "dpmpp_2m", "scheduler": "karras"}},
        "17": {"class_type": "ShowRgStyle", "inputs": {"value": ["16", 1]}},
        "18": {"class_type": "BatchLatentsRgStyle", "inputs": {"latent1": ["13", 0], "latent2": ["13", 0]}},
        "19": {"class_type": "ShowRgStyle", "inputs": {"value": ["18", 0]}},
        "20": {"class_type": "RangeCrStyle", "inputs": {"start": 0.0, "stop": 1.0, "steps": 3}},
        "21": {"class_type": "ShowRgStyle", "inputs": {"value": ["20", 0]}},
        "22": {"class_type": "EvalRgStyle", "inputs": {"code": "a * 3 + 1", "a": ["20", 1]}},
        "23": {"class_type": "ShowRgStyle", "inputs": {"value": ["22", 0]}},
        "24": {"class_type": "JoinCrStyle", "inputs": {"a": "ab", "b": "cd"}},
        "25": {"class_type": "ShowRgStyle", "inputs": {"value": ["24", 0]}},
        "26": {"class_type": "ShowRgStyle", "inputs": {"value": ["24", 1]}},
    }


@dataclass
class Ran:
    statuses: dict[str, PackStatus]
    result: Any
    input_dir: Path
    output_dir: Path
    temp: Path
    host_nodes: set[str]


async def _run(tmp: Path) -> Ran:
    paths = OutputPaths(tmp / "base" / "output", tmp / "temp")  # output never created here: a pack lists it
    input_dir = tmp / "base" / "input"  # never created here: the pack's INPUT_TYPES lists it
    registry = Registry()
    load_builtin(registry, paths, NodeFolders(input_dir, paths.output_dir, paths.temp_dir,
                                              ModelFolders(tmp / "base" / "models")))
    core = set(registry.nodes)
    ext = tmp / "extensions"
    for name in ("kj_style", "rgthree_style", "comfyroll_style"):
        shutil.copytree(PACKS / name, ext / name)
    folders = {"output": str(paths.output_dir), "temp": str(paths.temp_dir), "input": str(input_dir),
               "models_dir": str(tmp / "base" / "models")}
    runners, statuses = await load_extensions(registry, ext, VenvBuilder(tmp / "envs"), offline=True,
                                              folders=folders)
    try:
        registry.freeze()
        result = await Executor(registry, ListSink(), make_cache(none=True)).run(prompt(), "real", EXTRA_DATA)
    finally:
        for runner in runners:
            await runner.close()
    return Ran({s.name: s for s in statuses}, result, input_dir, paths.output_dir, paths.temp_dir, core)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    tmp = tmp_path_factory.mktemp("realpacks")
    mp = pytest.MonkeyPatch()
    mp.setenv("UV_CACHE_DIR", str(tmp / "uv-cache"))
    try:
        return asyncio.run(_run(tmp))
    finally:
        mp.undo()


def text(ran: Ran, node: str) -> Any:
    [value] = ran.result.outputs[node]["text"]
    return value


def test_every_class_of_both_packs_registers(ran: Ran) -> None:
    for name, expected in (("kj_style", KJ_NODES), ("rgthree_style", RG_NODES)):
        status = ran.statuses[name]
        assert status.state == "ready", status.reason
        assert sorted(status.nodes) == expected, status.notes
        assert not [n for n in status.notes if "failed" in n], status.notes
    assert ran.result.status == "success", "".join((ran.result.error or {}).get("traceback") or []) or ran.result.error


def test_the_input_folder_exists_for_input_types_that_list_it(ran: Ran) -> None:
    assert ran.input_dir.is_dir()


def test_the_output_folder_exists_for_input_types_that_list_it(ran: Ran) -> None:
    status = ran.statuses["comfyroll_style"]
    assert status.state == "ready", status.reason
    assert sorted(status.nodes) == ["JoinCrStyle", "LoadFromOutputCrStyle", "RangeCrStyle"], status.notes
    assert ran.output_dir.is_dir()


def test_an_image_op_runs_in_the_pack(ran: Ran) -> None:
    shown = text(ran, "4")
    assert shown["shape"] == [1, 2, 4, 3]
    assert shown["row"] == [1.0, 1.0, 0.5, 0.5]  # grey|red scaled to 4 wide, then flipped: red|grey


def test_a_bounding_box_output_crosses_as_boxes_per_frame(ran: Ran) -> None:
    assert text(ran, "6") == [[{"x": 0, "y": 0, "width": 16, "height": 2}]]


def test_a_v3_ui_preview_writes_in_the_hosts_temp_folder(ran: Ran) -> None:
    [image] = ran.result.outputs["9"]["images"]
    assert image["type"] == "temp"
    assert (ran.temp / image["subfolder"] / image["filename"]).is_file()


def test_an_undeclared_extra_return_value_is_dropped(ran: Ran) -> None:
    assert text(ran, "8") == 2


def test_fewer_values_than_outputs_leave_the_rest_none(ran: Ran) -> None:
    assert text(ran, "25") == "abcd" and text(ran, "26") is None


def test_numpy_scalars_cross_as_numbers(ran: Ran) -> None:
    assert ran.result.outputs["21"]["text"] == [0.0, 0.5, 1.0]  # a list output: the viewer ran once per value


def test_undeclared_widget_inputs_and_extra_pnginfo_reach_a_flexible_node(ran: Ran) -> None:
    assert text(ran, "23") == 3 * 3 + 1 + 2  # code and a (numpy's 3) undeclared; two workflow nodes


def test_core_nodes_called_from_pack_code_run_on_the_host(ran: Ran) -> None:
    assert text(ran, "12") == {"shape": [3, 2, 8, 3], "mean": round((1 + 2) / 9, 4)}  # 1 red + 2 blue frames
    assert text(ran, "14") == {"shape": [2, 4, 4, 8], "mean": 0.0}
    assert text(ran, "17") == "karras"
    assert text(ran, "19") == {"shape": [4, 4, 4, 8], "mean": 0.0}  # a v3 core node by its v1 name (batch)


def test_a_preview_image_subclass_writes_previews(ran: Ran) -> None:
    ui = ran.result.outputs["15"]
    assert len(ui["a_images"]) == 1 and len(ui["b_images"]) == 2
    for image in ui["a_images"] + ui["b_images"]:
        assert image["type"] == "temp" and image["filename"].startswith("rgthree.compare.")
        assert (ran.temp / image["subfolder"] / image["filename"]).is_file()


def test_doctor_says_which_comfy_extras_names_are_the_hosts_nodes(ran: Ran) -> None:
    from host.extensions.doctor import report
    from isolate.pack_requirements import read_pack_requirements

    status = ran.statuses["rgthree_style"]
    lines = report(status, read_pack_requirements(status.path), ran.host_nodes)
    assert "  comfy_extras.nodes_latent: LatentBatch: the host's node (runs on the host)" in lines
    assert "  comfy_extras.nodes_clip_sdxl: CLIPTextEncodeSDXL: the host's node (runs on the host)" in lines
    kj = ran.statuses["kj_style"]
    text = "\n".join(report(kj, read_pack_requirements(kj.path), ran.host_nodes))
    assert "comfy.samplers: lacks sampling_function (stand-ins: the import works" in text


async def test_cached_definitions_are_read_again_when_the_input_files_change(tmp_path: Path) -> None:
    from host.extensions.packs import NodeDefCache

    ext, input_dir = tmp_path / "extensions", tmp_path / "input"
    shutil.copytree(PACKS / "kj_style", ext / "kj_style")
    folders = {"input": str(input_dir), "models_dir": str(tmp_path / "models"), "output": str(tmp_path / "out"),
               "temp": str(tmp_path / "temp")}
    cache, builder = NodeDefCache(tmp_path / "nodedefs"), VenvBuilder(tmp_path / "envs")

    async def options() -> tuple[list[str], bool]:
        registry = Registry()
        runners, _ = await load_extensions(registry, ext, builder, offline=True, folders=folders, cache=cache)
        started = runners[0].child is not None
        for runner in runners:
            await runner.close()
        info = registry.object_info("LoadFromInputKJStyle")["LoadFromInputKJStyle"]
        return list(info["input"]["required"]["image"][0]), started

    assert await options() == (["(none)"], True)
    assert await options() == (["(none)"], False)  # unchanged: from the cache, no child started
    (input_dir / "photo.png").write_bytes(b"not really a png")
    assert await options() == (["photo.png"], True)  # a new input file: the pack's INPUT_TYPES read again
