"""isolate/codec.py: every container and Struct it sends is walked, so tensors anywhere reach shared memory."""

from __future__ import annotations

import msgspec
import torch

from isolate.codec import TAG, Codec
from isolate.dynprompt import DynPromptData, EphemeralNode


class Tagged(msgspec.Struct, tag="point", rename="camel"):
    some_value: int
    image: object = None


class Row(msgspec.Struct, array_like=True):
    a: int
    b: object


def codec_pair() -> tuple[Codec, list]:
    store: list = []

    def export(t):
        store.append(t)
        return {"i": len(store) - 1}

    host = Codec("host", export=export, open=lambda h: store[h["i"]])
    return host, store


def test_tensor_inside_a_struct_is_exported() -> None:
    host, store = codec_pair()
    image = torch.rand(1, 4, 4, 3)
    data = DynPromptData(prompt={"1": {"class_type": "A", "inputs": {}}},
                         ephemeral={"9": EphemeralNode(node={"class_type": "B", "inputs": {"value": image}},
                                                       parent="1", display="1", real="1")})
    encoded = host.encode({"DYNPROMPT": data})
    msgspec.json.encode(encoded)  # plain JSON data
    value = encoded["DYNPROMPT"]["ephemeral"]["9"]["node"]["inputs"]["value"]
    assert value == {TAG: "tensor", "h": {"i": 0}} and store[0] is image
    back = msgspec.convert(host.decode(encoded)["DYNPROMPT"], DynPromptData)
    assert back.ephemeral["9"].node["inputs"]["value"] is image


def test_struct_layout_matches_to_builtins() -> None:
    host, _ = codec_pair()
    for value in (Tagged(3), Row(1, "x"), EphemeralNode({"a": [1, 2]}, "p", "d", "r")):
        assert host.encode(value) == msgspec.to_builtins(value)
    encoded = host.encode(Tagged(1, image=torch.zeros(2)))
    assert encoded["type"] == "point" and encoded["someValue"] == 1 and encoded["image"][TAG] == "tensor"
    assert host.encode(Row(1, torch.zeros(1)))[1][TAG] == "tensor"


class Name(str):
    def __str__(self) -> str:
        return "not this"


def test_numpy_scalars_and_builtin_subclasses_cross_as_plain_values() -> None:
    """A node returning numpy.float64 (Comfyroll's CR Float Range List), numpy.int64 or a str subclass gives the
    other side the number or the text, as JSON, never an unencodable value or an opaque reference."""
    import numpy as np

    host, _ = codec_pair()
    values = [np.float64(0.5), np.float32(0.25), np.int64(3), np.bool_(True), np.str_("a"), Name("x"),
              [np.float64(1.0), np.int32(2)], (np.float64("nan"),)]
    encoded = host.encode(values)
    data = msgspec.json.decode(msgspec.json.encode(encoded))
    back = host.decode(data)
    assert back[:7] == [0.5, 0.25, 3, True, "a", "x", [1.0, 2]]
    assert [type(v) for v in back[:6]] == [float, float, int, bool, str, str]
    assert back[7][0] != back[7][0]  # NaN stays NaN
    kept = host.encode(np.complex128(1j))  # no JSON form: stays here, the other side gets a reference
    assert kept[TAG] == "opaque" and host.decode(kept) == 1j
