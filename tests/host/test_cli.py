"""``nodehost run``: the main job, headless (in-process through main(), and once as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "invert.json"


def test_run_example_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", str(EXAMPLE), "--output-directory", str(tmp_path / "out"),
               "--temp-directory", str(tmp_path / "tmp")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "running node 2 (ImageInvert)" in out and "outputs:" in out
    assert (tmp_path / "out" / "invert_00001_.png").exists()
    assert any((tmp_path / "tmp").glob("ComfyUI_temp_*_00001_.png"))


def test_validation_error_is_printed_readably(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"1": {"class_type": "EmptyImage", "inputs": {"width": 0, "height": 8,
                                                                             "batch_size": 1, "color": 0}},
                               "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}))
    assert main(["run", str(bad), "--output-directory", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Prompt outputs failed validation" in err
    assert "Value 0 smaller than min of 1: width" in err and "Required input is missing: filename_prefix" in err


def test_execution_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "escape.json"
    bad.write_text(json.dumps({"1": {"class_type": "EmptyImage", "inputs": {"width": 2, "height": 2,
                                                                             "batch_size": 1, "color": 0}},
                               "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0],
                                                                           "filename_prefix": "../x"}}}))
    assert main(["run", str(bad), "--output-directory", str(tmp_path / "o")]) == 1
    assert "PathEscapeError" in capsys.readouterr().err


def test_unreadable_prompt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.json").write_text("{not json")
    assert main(["run", str(tmp_path / "x.json")]) == 2
    assert "cannot read prompt" in capsys.readouterr().err


@pytest.mark.e2e
def test_console_script_subprocess(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "nodehost"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "host.cli"]
    proc = subprocess.run([*cmd, "run", str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "output" / "invert_00001_.png").exists()


def test_cache_flags_choose_the_strategy() -> None:
    from host.cli import build_parser
    from host.executor.caches import LRUCache, NullCache, RAMPressureCache, make_cache

    def cache_for(*flags: str):
        args = build_parser().parse_args(["run", "p.json", *flags])
        return make_cache(lru=args.cache_lru, ram_gb=args.cache_ram, none=args.cache_none)

    assert isinstance(cache_for("--cache-lru", "5"), LRUCache)
    ram = cache_for("--cache-ram")
    assert isinstance(ram, RAMPressureCache) and ram.min_free_gb == 4.0
    assert cache_for("--cache-ram", "2.5").min_free_gb == 2.5
    assert isinstance(cache_for("--cache-none"), NullCache)
    assert type(cache_for()).__name__ == "ClassicCache"


def test_cpu_flag_is_accepted_by_run_and_serve() -> None:
    from host.cli import build_parser

    assert build_parser().parse_args(["serve", "--cpu"]).cpu is True
    assert build_parser().parse_args(["run", "p.json", "--cpu"]).cpu is True
    assert build_parser().parse_args(["serve"]).cpu is False


def test_run_with_cache_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", str(EXAMPLE), "--output-directory", str(tmp_path / "out"), "--temp-directory",
               str(tmp_path / "tmp"), "--cache-none"])
    assert rc == 0 and (tmp_path / "out" / "invert_00001_.png").exists()


def test_run_with_an_extension_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    ext = tmp_path / "extensions"
    shutil.copytree(Path(__file__).resolve().parents[1] / "packs" / "demo_pack", ext / "demo_pack")
    prompt = tmp_path / "p.json"
    prompt.write_text(json.dumps({"1": {"class_type": "DemoAdd", "inputs": {"a": 2, "b": 5}},
                                  "2": {"class_type": "DemoShow", "inputs": {"value": ["1", 0]}}}))
    rc = main(["run", str(prompt), "--output-directory", str(tmp_path / "o"), "--extensions-dir", str(ext),
               "--envs-dir", str(tmp_path / "envs"), "--offline"])
    out = capsys.readouterr().out
    assert rc == 0 and '"text": ["7"]' in out


def test_ext_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    packs = Path(__file__).resolve().parents[1] / "packs"
    ext = tmp_path / "extensions"
    shutil.copytree(packs / "demo_pack", ext / "demo_pack")
    shutil.copytree(packs / "broken_pack", ext / "broken_pack")
    rc = main(["ext", "list", "--extensions-dir", str(ext), "--envs-dir", str(tmp_path / "envs"), "--offline"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "demo_pack" in out and "ready" in out and "DemoAdd" in out
    assert "broken_pack" in out and "failed" in out and "this_module_does_not_exist" in out


def test_base_and_input_directories_and_png_chunks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--base-directory roots output/ and models/; --input-directory is where LoadImage reads; the saved PNG
    keeps the prompt as a text chunk."""
    import json

    from PIL import Image

    inputs = tmp_path / "elsewhere"
    inputs.mkdir()
    Image.new("RGB", (6, 4), (10, 200, 30)).save(inputs / "in.png")
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
              "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact",
                                                            "width": 12, "height": 0, "crop": "disabled"}},
              "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "scaled"}}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(prompt))
    rc = main(["run", str(path), "--base-directory", str(tmp_path / "base"), "--input-directory", str(inputs),
               "--cpu"])
    assert rc == 0, capsys.readouterr().err
    saved = Image.open(tmp_path / "base" / "output" / "scaled_00001_.png")
    assert saved.size == (12, 8) and saved.getpixel((0, 0)) == (10, 200, 30)
    assert json.loads(saved.text["prompt"]) == prompt
    saved.close()


def test_missing_input_image_is_a_validation_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"1": {"class_type": "LoadImage", "inputs": {"image": "gone.png"}},
                                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}))
    assert main(["run", str(path), "--base-directory", str(tmp_path)]) == 1
    assert "gone.png" in capsys.readouterr().err


def test_outputs_that_fail_validation_are_reported_while_the_others_run(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """As ComfyUI, the valid outputs run; the invalid ones are named with their errors, not dropped quietly."""
    prompt = tmp_path / "half.json"
    prompt.write_text(json.dumps({
        "1": {"class_type": "EmptyImage", "inputs": {"width": 4, "height": 4, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "ok"}},
        "3": {"class_type": "EmptyImage", "inputs": {"width": 0, "height": 4, "batch_size": 1, "color": 0}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "bad"}}}))
    assert main(["run", str(prompt), "--output-directory", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "outputs not run, they failed validation: 4" in captured.err
    assert "Value 0 smaller than min of 1: width" in captured.err
    assert "2 (SaveImage)" in captured.out and (tmp_path / "o" / "ok_00001_.png").exists()
    assert not list((tmp_path / "o").glob("bad_*"))


def test_a_post_body_runs_with_its_extra_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A POST /prompt body keeps its extra_data: the nodes get extra_pnginfo (SaveImage writes its keys as PNG
    chunks; rgthree's Power Puter reads extra_pnginfo["workflow"])."""
    from PIL import Image

    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 4, "height": 2, "batch_size": 1, "color": 0}},
              "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "body"}}}
    workflow = {"nodes": [], "links": [], "version": 0.4}
    path = tmp_path / "body.json"
    body = {"prompt": prompt, "client_id": "c", "extra_data": {"extra_pnginfo": {"workflow": workflow}}}
    path.write_text(json.dumps(body))
    assert main(["run", str(path), "--output-directory", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    with Image.open(tmp_path / "out" / "body_00001_.png") as saved:
        assert json.loads(saved.text["workflow"]) == workflow
        assert json.loads(saved.text["prompt"]) == prompt
