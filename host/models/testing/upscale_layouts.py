"""ESRGAN (RRDBNet) state-dict layouts for tests, enumerated from the published architecture: the original
ESRGAN names (``model.N``) and BasicSR / Real-ESRGAN's (``conv_first``, ``body.i.rdbj.convk``, ``conv_up1``...)."""

from __future__ import annotations

from host.models.testing.layouts import Shapes


def _conv(S: Shapes, name: str, cout: int, cin: int) -> None:
    S |= {name + ".weight": (cout, cin, 3, 3), name + ".bias": (cout,)}


def esrgan_layout(nf: int = 64, gc: int = 32, nb: int = 23, upsamples: int = 2, in_nc: int = 3, out_nc: int = 3,
                  basicsr: bool = False) -> Shapes:
    """The keys of an RRDBNet (4x: two upsamples)."""
    S: Shapes = {}
    _conv(S, "conv_first" if basicsr else "model.0", nf, in_nc)
    for i in range(nb):
        for j in range(1, 4):
            for k in range(1, 6):
                cin, cout = nf + (k - 1) * gc, (gc if k < 5 else nf)
                _conv(S, f"body.{i}.rdb{j}.conv{k}" if basicsr else f"model.1.sub.{i}.RDB{j}.conv{k}.0", cout, cin)
    _conv(S, "conv_body" if basicsr else f"model.1.sub.{nb}", nf, nf)
    for u in range(1, upsamples + 1):
        _conv(S, f"conv_up{u}" if basicsr else f"model.{3 * u}", nf, nf)
    _conv(S, "conv_hr" if basicsr else f"model.{3 * upsamples + 2}", nf, nf)
    _conv(S, "conv_last" if basicsr else f"model.{3 * upsamples + 4}", out_nc, nf)
    return S


__all__ = ["esrgan_layout"]
