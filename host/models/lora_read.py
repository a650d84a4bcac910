"""Reading a LoRA file's tensors into deltas (host.models.lora) for the weights a key map names
(host.models.lora_keys), in every naming style ComfyUI reads: kohya ``lora_up``/``lora_down`` (+ LoCon
``lora_mid``), diffusers ``_lora.up``/``.lora.up``, PEFT ``lora_B``/``lora_A`` (also ``.default``, bare and
``lora_linear_layer``), LyCORIS ``hada_*``/``lokr_*``, ``alpha``, ``dora_scale``, ``reshape_weight``, and the full
``diff``/``diff_b``/``w_norm``/``b_norm``/``set_weight`` tensors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import Tensor

from host.models.lora import Adapter, Diff, LoHa, LoKr, LoRA, SetWeight

#: (up, down, mid) name pattern per LoRA naming style; ``{}`` is the key stem
_LORA_NAMES = (("{}.lora_up.weight", "{}.lora_down.weight", "{}.lora_mid.weight"),
               ("{}_lora.up.weight", "{}_lora.down.weight", None),
               ("{}.lora_B.weight", "{}.lora_A.weight", None),
               ("{}.lora.up.weight", "{}.lora.down.weight", None),
               ("{}.lora_B", "{}.lora_A", None),
               ("{}.lora_linear_layer.up.weight", "{}.lora_linear_layer.down.weight", None),
               ("{}.lora_B.default.weight", "{}.lora_A.default.weight", None))


class _Reader:
    """Pulls one stem's tensors out of a LoRA state dict, recording the keys it used."""

    def __init__(self, sd: Mapping[str, Tensor]) -> None:
        self.sd, self.keys, self.used = sd, set(sd.keys()), set[str]()

    def get(self, name: str) -> Tensor | None:
        if name not in self.keys:
            return None
        self.used.add(name)
        return self.sd[name]

    def adapter(self, stem: str) -> Adapter | None:
        a = self.get(stem + ".alpha")
        alpha = float(a.item()) if a is not None else None
        dora = self.get(stem + ".dora_scale")
        for up_name, down_name, mid_name in _LORA_NAMES:
            if up_name.format(stem) in self.keys and down_name.format(stem) in self.keys:
                up, down = self.get(up_name.format(stem)), self.get(down_name.format(stem))
                mid = self.get(mid_name.format(stem)) if mid_name else None
                r = self.get(stem + ".reshape_weight")
                return LoRA(up, down, alpha, mid, dora, [int(x) for x in r.tolist()] if r is not None else None)  # type: ignore[arg-type]
        if stem + ".hada_w1_a" in self.keys:
            w = [self.get(f"{stem}.hada_{n}") for n in ("w1_a", "w1_b", "w2_a", "w2_b", "t1", "t2")]
            return LoHa(w[0], w[1], w[2], w[3], alpha, w[4], w[5], dora)  # type: ignore[arg-type]
        names = ("w1", "w2", "w1_a", "w1_b", "w2_a", "w2_b", "t2")
        if any(f"{stem}.lokr_{n}" in self.keys for n in ("w1", "w2", "w1_a", "w2_a")):
            w = [self.get(f"{stem}.lokr_{n}") for n in names]
            return LoKr(w[0], w[1], alpha, w[2], w[3], w[4], w[5], w[6], dora)
        return None


def _stems(keys: Iterable[str]) -> set[str]:
    """Every stem a key could belong to: each of its dotted prefixes, and the part before ``_lora.``."""
    out: set[str] = set()
    for k in keys:
        parts = k.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
        if "_lora." in k:
            out.add(k.split("_lora.", 1)[0])
    return out


def read_patches(lora: Mapping[str, Tensor], key_map: Mapping[str, str]) -> tuple[dict[str, Adapter], set[str]]:
    """(model weight -> Adapter, the LoRA keys used) for every stem of ``key_map`` the file has."""
    r = _Reader(lora)
    out: dict[str, Adapter] = {}
    candidates = _stems(r.keys)
    for stem, target in key_map.items():
        if stem not in candidates:
            continue
        adapter = r.adapter(stem)
        if adapter is not None:
            out[target] = adapter
        bias = target[: -len(".weight")] + ".bias" if target.endswith(".weight") else None
        for suffix, key in ((".w_norm", target), (".b_norm", bias), (".diff", target), (".diff_b", bias)):
            t = r.get(stem + suffix)
            if t is not None and key is not None:
                out[key] = Diff(t)
        t = r.get(stem + ".set_weight")
        if t is not None:
            out[target] = SetWeight(t)
    return out, r.used


__all__ = ["read_patches"]
