"""Type compatibility (COMPAT §3.2)."""

from __future__ import annotations

import pytest

from host.executor.types import types_compatible
from isolate.nodedef import parse_input


class AnyType(str):
    def __ne__(self, other: object) -> bool:
        return False


def slot(t: object):
    return parse_input("x", "required", (t,))


@pytest.mark.parametrize(("received", "declared", "ok"), [
    ("IMAGE", "IMAGE", True),
    ("IMAGE", "LATENT", False),
    ("*", "LATENT", True),
    ("IMAGE", "*", True),
    ("IMAGE,MASK", "MASK", True),
    ("INT", "FLOAT,STRING", False),
    ("INT", "FLOAT,INT", True),
    ("COMFY_MATCHTYPE_V3", "IMAGE", True),
    ("IMAGE", "COMFY_MATCHTYPE_V3", True),
])
def test_string_rules(received: str, declared: str, ok: bool) -> None:
    assert types_compatible(received, False, False, slot(declared)) is ok


def test_any_type_str_subclass_either_side() -> None:
    assert types_compatible("IMAGE", False, False, slot(AnyType("*")))
    assert slot(AnyType("WHATEVER")).any_type
    assert types_compatible("LATENT", True, False, slot("IMAGE"))


def test_combo_output_into_combo_input() -> None:
    assert types_compatible("COMBO", False, True, slot("COMBO"))
    assert not types_compatible("COMBO", False, False, slot("INT"))
