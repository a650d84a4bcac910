"""The builtin nodes render exactly ComfyUI's /object_info entries (names, inputs, defaults, key sets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.registry import Registry

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "comfyui_object_info_core.json"

#: every node we ship; each is compared with its reference entry key for key
SHIPPED = {
    "EmptyImage", "ImageInvert", "PreviewImage", "SaveImage", "ImageScaleBy", "ImageBatch",
    "PrimitiveInt", "PrimitiveFloat", "PrimitiveString", "PrimitiveStringMultiline", "PrimitiveBoolean",
    "RebatchImages", "RebatchLatents", "PreviewAny",
    "StringConcatenate", "StringSubstring", "StringLength", "CaseConverter", "StringTrim", "StringReplace",
    "StringContains", "StringCompare", "RegexMatch", "RegexExtract", "RegexReplace", "ComfySwitchNode",
}


def test_every_builtin_class_loads(registry: Registry) -> None:
    assert registry.failures == {} and registry.conflicts == []
    assert set(registry.nodes) == SHIPPED


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/ reference data not beside the checkout")
def test_builtin_object_info_matches_comfyui_key_for_key(registry: Registry) -> None:
    reference = json.loads(REFERENCE.read_text())
    ours = json.loads(json.dumps(registry.object_info()))
    assert set(ours) == SHIPPED
    for name, info in ours.items():
        assert info == reference[name], name


def test_object_info_single_and_unknown(registry: Registry) -> None:
    assert list(registry.object_info("ImageInvert")) == ["ImageInvert"]
    assert registry.object_info("NoSuchNode") == {}
