"""host/scaleout/landing.py: files from workers that do not share the server's folders land under names the
server numbers (two workers saving ``x_00001_.png`` at once make two files), the outputs naming them are
rewritten, and a file shipped again unchanged lands once. No Ray needed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from host.scaleout.landing import Landing, highest, place
from host.scaleout.spec import FileBlob

pytestmark = pytest.mark.timeout(30)


def folders(tmp_path: Path) -> dict[str, Path]:
    return {"output": tmp_path / "output", "temp": tmp_path / "temp"}


def image(name: str, subfolder: str = "", kind: str = "output") -> dict[str, str]:
    return {"filename": name, "subfolder": subfolder, "type": kind}


def test_two_workers_saving_the_same_name_get_two_files(tmp_path: Path) -> None:
    landing = Landing(folders(tmp_path))
    landing.land([FileBlob("output", "x_00001_.png", b"A")], "worker-a")
    landing.land([FileBlob("output", "x_00001_.png", b"B")], "worker-b")
    out = tmp_path / "output"
    assert (out / "x_00001_.png").read_bytes() == b"A" and (out / "x_00002_.png").read_bytes() == b"B"
    assert landing.rename({"images": [image("x_00001_.png")]}, "worker-a") == {"images": [image("x_00001_.png")]}
    assert landing.rename({"images": [image("x_00001_.png")]}, "worker-b") == {"images": [image("x_00002_.png")]}


def test_numbers_continue_after_the_servers_highest_as_on_one_machine(tmp_path: Path) -> None:
    out = tmp_path / "output" / "sub"
    out.mkdir(parents=True)
    for name in ("x_00007_.png", "x_00002_.png", "xy_00100_.png", "x_notes.txt"):
        (out / name).write_bytes(b"old")
    assert highest(out, "x") == 7
    assert place(tmp_path / "output", "sub/x_00001_.png", b"new") == "sub/x_00008_.png"
    assert place(tmp_path / "output", "sub/clip_00001.mp4", b"v") == "sub/clip_00001.mp4"
    # a name without a counter is written over, as one machine would
    assert place(tmp_path / "output", "sub/x_notes.txt", b"new") == "sub/x_notes.txt"
    assert (out / "x_notes.txt").read_bytes() == b"new"


def test_a_batch_keeps_its_order_and_history_outputs_are_renamed(tmp_path: Path) -> None:
    landing = Landing(folders(tmp_path))
    landing.land([FileBlob("output", "b/x_00001_.png", b"other")], "a")
    landing.land([FileBlob("output", "b/x_00001_.png", b"1"), FileBlob("output", "b/x_00002_.png", b"2"),
                  FileBlob("temp", "p_00001_.png", b"t")], "b")
    outputs = {"9": {"images": [image("x_00001_.png", "b"), image("x_00002_.png", "b")], "text": ["kept"]},
               "8": {"images": [image("p_00001_.png", kind="temp")]}}
    renamed = landing.rename_outputs(outputs, "b")
    assert renamed["9"] == {"images": [image("x_00002_.png", "b"), image("x_00003_.png", "b")], "text": ["kept"]}
    assert renamed["8"] == outputs["8"]  # nothing else in temp: its own name
    assert (tmp_path / "output" / "b" / "x_00003_.png").read_bytes() == b"2"


def test_a_file_shipped_again_unchanged_lands_once(tmp_path: Path) -> None:
    """A cached SaveImage sends ``executed`` with the file it saved before; the worker ships it again."""
    landing = Landing(folders(tmp_path))
    landing.land([FileBlob("output", "x_00001_.png", b"A")], "a")
    landing.land([FileBlob("output", "x_00001_.png", b"B")], "b")
    landing.land([FileBlob("output", "x_00001_.png", b"B")], "b")
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["x_00001_.png", "x_00002_.png"]
    assert landing.rename({"images": [image("x_00001_.png")]}, "b") == {"images": [image("x_00002_.png")]}
    # the same bytes from a restarted worker (a new session) are a new save: a new file
    landing.land([FileBlob("output", "x_00001_.png", b"B")], "b-restarted")
    assert (tmp_path / "output" / "x_00003_.png").read_bytes() == b"B"


def test_files_landing_at_once_never_share_a_name(tmp_path: Path) -> None:
    blobs = [FileBlob("output", "x_00001_.png", bytes([i])) for i in range(16)]  # one worker each
    threads = [threading.Thread(target=Landing(folders(tmp_path)).land, args=([blob], f"w{i}"))
               for i, blob in enumerate(blobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    written = {p.read_bytes() for p in (tmp_path / "output").iterdir()}
    assert len(written) == 16 and highest(tmp_path / "output", "x") == 16


def test_a_path_leaving_its_folder_is_refused(tmp_path: Path) -> None:
    landing = Landing(folders(tmp_path))
    landing.land([FileBlob("output", "../escape_00001_.png", b"x"), FileBlob("input", "a.png", b"x")], "a")
    assert not (tmp_path / "escape_00001_.png").exists() and not (tmp_path / "output").exists()
    assert landing.names == {}
