"""The one path guard every file route uses: strict rules for files, ComfyUI's userdata rules behind a flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.server.safe_paths import PathRefused, confine


def test_userdata_rules_allow_dotdot_that_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "u"
    (root / "b").mkdir(parents=True)
    assert confine(root, "a/../b/c.json", userdata=True) == root / "b" / "c.json"
    assert confine(root, "", userdata=True) == root
    assert confine(root, "b%2Fc.json", userdata=True) == root / "b" / "c.json"  # decoded once, as ComfyUI


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/passwd", "%2e%2e%2fx", "a\0b"])
def test_userdata_rules_refuse_what_leaves_the_folder(tmp_path: Path, rel: str) -> None:
    with pytest.raises(PathRefused):
        confine(tmp_path / "u", rel, userdata=True)


def test_both_rules_refuse_a_symlink_leading_out(tmp_path: Path) -> None:
    root = tmp_path / "u"
    root.mkdir()
    (tmp_path / "secret").mkdir()
    (root / "link").symlink_to(tmp_path / "secret")
    for userdata in (True, False):
        with pytest.raises(PathRefused):
            confine(root, "link/key.txt", userdata=userdata)


def test_strict_rules_refuse_any_dotdot_and_encoded_escape(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    assert confine(root, "sub/dir") == root / "sub" / "dir"
    for rel in ("a/../b", "%2e%2e/x", "%252e%252e%252fx", "a\\b"):
        with pytest.raises(PathRefused) as refused:
            confine(root, rel)
        assert refused.value.status == 403
