"""``comfy_api.latest`` (and the v0_0_2 / v0_0_1 aliases) importable after ``isolate.compat_path.install()``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from isolate import compat_path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_compat_dir_holds_comfy_api() -> None:
    assert compat_path.COMPAT_DIR.name == "compat_modules"
    assert (compat_path.COMPAT_DIR / "comfy_api" / "latest" / "__init__.py").is_file()
    assert not (compat_path.COMPAT_DIR / "__init__.py").exists()  # a sys.path entry, not a package


def test_nothing_is_importable_before_install() -> None:
    assert run("""
        import importlib.util, isolate.compat_path
        print(importlib.util.find_spec("comfy_api"))
    """) == "None"


def test_comfy_api_latest_is_our_api() -> None:
    out = run("""
        import sys
        import isolate.compat_path as cp
        cp.install(); cp.install()
        assert sys.path.count(str(cp.COMPAT_DIR)) == 1 and sys.path[0] == str(cp.COMPAT_DIR)
        from comfy_api.latest import io, ui, ComfyExtension, ComfyAPI, ComfyAPISync, Input, InputImpl, Types, IO, UI
        from comfy_api.latest.io import ComfyNode, Schema, NodeOutput, Autogrow
        from comfy_api.latest.ui import PreviewImage
        from comfy_api.latest._io import _UIOutput
        import comfy_api.latest as latest
        import isolate.api as api, isolate.api.io as our_io, isolate.api.ui as our_ui
        assert ComfyNode is our_io.ComfyNode and Schema is our_io.Schema and Autogrow is our_io.Autogrow
        assert io.ComfyNode is our_io.ComfyNode and IO.Int is our_io.Int and PreviewImage is our_ui.PreviewImage
        assert UI.PreviewText is our_ui.PreviewText and _UIOutput is our_io._UIOutput
        assert ComfyExtension is api.ComfyExtension and ComfyAPISync is api.ComfyAPISync
        assert latest.Input is api.Input and Types is api.Types and InputImpl is api.InputImpl
        assert latest.io.NodeOutput is our_io.NodeOutput
        for version in ("v0_0_2", "v0_0_1"):
            mod = __import__(f"comfy_api.{version}", fromlist=["io"])
            assert mod.io.ComfyNode is our_io.ComfyNode and mod.ComfyExtension is api.ComfyExtension
            sub = __import__(f"comfy_api.{version}.io", fromlist=["Schema"])
            assert sub.Schema is our_io.Schema and sub.Hidden is our_io.Hidden
        from comfy_api.input import VideoInput, ImageInput
        from comfy_api.util import VideoContainer
        import torch
        assert ImageInput is torch.Tensor and VideoInput is api.Input.Video
        print("ok")
    """)
    assert out == "ok"


def test_a_v3_pack_written_against_comfy_api_loads() -> None:
    out = run("""
        import asyncio, isolate.compat_path
        isolate.compat_path.install()
        from comfy_api.latest import ComfyExtension, io
        from isolate.v3 import nodedef_from_v3

        class Hello(io.ComfyNode):
            @classmethod
            def define_schema(cls):
                return io.Schema(node_id="Hello", inputs=[io.String.Input("name")], outputs=[io.String.Output()])

            @classmethod
            def execute(cls, name):
                return io.NodeOutput("hello " + name)

        class Ext(ComfyExtension):
            async def get_node_list(self):
                return [Hello]

        async def comfy_entrypoint():
            return Ext()

        ext = asyncio.run(comfy_entrypoint())
        nodes = asyncio.run(ext.get_node_list())
        nd = nodedef_from_v3(nodes[0], python_module="custom_nodes.hello")
        print(nd.name, nd.api, nodes[0].EXECUTE_NORMALIZED(name="you").args[0])
    """)
    assert out == "Hello v3 hello you"


def test_install_in_process_is_idempotent(monkeypatch) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(compat_path.COMPAT_DIR)])
    compat_path.install()
    compat_path.install()
    assert sys.path[0] == str(compat_path.COMPAT_DIR) and sys.path.count(str(compat_path.COMPAT_DIR)) == 1


def test_host_install_api_adds_only_comfy_api_and_comfy_execution() -> None:
    import subprocess
    import sys

    code = ("import sys; from isolate.compat_path import install_api, COMPAT_DIR; install_api(); "
            "import comfy_api.latest as l; from isolate.api import io; assert l.io.ComfyNode is io.ComfyNode; "
            "import comfy_execution.jobs as j, isolate.jobs as h; assert j.normalize_history_item is "
            "h.normalize_history_item; "
            "assert str(COMPAT_DIR) not in sys.path; "
            "import importlib.util; assert importlib.util.find_spec('folder_paths') is None; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
