"""Type compatibility between a producer's output and a consumer's input (COMPAT §3.2)."""

from __future__ import annotations

from isolate.nodedef import InputSlot

MATCHTYPE = "COMFY_MATCHTYPE_V3"


def types_compatible(received: str, received_any: bool, received_combo: bool, slot: InputSlot) -> bool:
    """Whether an output of type ``received`` may feed ``slot``.

    Equal types, either side ``*`` (or an AnyType str subclass, flagged when the NodeDef was built), either
    side MATCHTYPE, a combo output into ``COMBO``, or comma-unions with a common member.
    """
    declared = slot.type
    if received == declared or received_any or slot.any_type:
        return True
    if received == "*" or declared == "*" or MATCHTYPE in (received, declared):
        return True
    if received_combo and declared == "COMBO":
        return True
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in declared.split(",")}
    return "*" in got or "*" in want or bool(got & want)
