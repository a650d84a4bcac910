"""ESRGAN's RRDBNet (Wang et al. 2018, "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks") in
the original ESRGAN key layout (``model.0`` first conv, ``model.1.sub.i.RDBj.convk.0`` residual-in-residual dense
blocks then ``model.1.sub.N`` trunk conv, then per x2 a nearest upsample + conv + LeakyReLU, the HR conv and the
last conv). BasicSR / Real-ESRGAN names (``conv_first``, ``body.i.rdbj.convk``, ``conv_up1``...) are renamed to
it at load; Real-ESRGAN's x2/x1 models pixel-unshuffle the input first (their first conv takes 4x/16x the
channels).

Used when spandrel (which loads the whole ESRGAN family and many other architectures) cannot be imported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class RRDBConfig:
    in_nc: int = 3
    out_nc: int = 3
    nf: int = 64
    gc: int = 32
    nb: int = 23
    #: the number of x2 upsampling stages
    upsamples: int = 2
    #: the pixel-unshuffle factor applied to the input (1, 2 or 4)
    unshuffle: int = 1

    @property
    def scale(self) -> int:
        return 2 ** self.upsamples // self.unshuffle


def _conv_act(cin: int, cout: int, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1)]
    if act:
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; out = x + 0.2 conv5([x, x1..x4])."""

    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.conv1 = _conv_act(nf, gc)
        self.conv2 = _conv_act(nf + gc, gc)
        self.conv3 = _conv_act(nf + 2 * gc, gc)
        self.conv4 = _conv_act(nf + 3 * gc, gc)
        self.conv5 = _conv_act(nf + 4 * gc, nf, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(conv(torch.cat(feats, 1)))
        return x + 0.2 * self.conv5(torch.cat(feats, 1))


class RRDB(nn.Module):
    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.RDB1, self.RDB2, self.RDB3 = (ResidualDenseBlock(nf, gc) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.RDB3(self.RDB2(self.RDB1(x)))


class _Shortcut(nn.Module):
    def __init__(self, sub: nn.Sequential) -> None:
        super().__init__()
        self.sub = sub

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sub(x)


class RRDBNet(nn.Module):
    """``net(x [B, in_nc, H, W]) -> [B, out_nc, H*scale, W*scale]``."""

    def __init__(self, cfg: RRDBConfig) -> None:
        super().__init__()
        self.config = cfg
        layers: list[nn.Module] = [nn.Conv2d(cfg.in_nc, cfg.nf, 3, padding=1),
                                   _Shortcut(nn.Sequential(*(RRDB(cfg.nf, cfg.gc) for _ in range(cfg.nb)),
                                                           nn.Conv2d(cfg.nf, cfg.nf, 3, padding=1)))]
        for _ in range(cfg.upsamples):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cfg.nf, cfg.nf, 3, padding=1),
                       nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(cfg.nf, cfg.nf, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(cfg.nf, cfg.out_nc, 3,
                                                                                         padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.config.unshuffle)
        return self.model(x)


_NEW_NAMES = [
    (r"^conv_first\.", "model.0."),
    (r"^(?:body|RRDB_trunk)\.(\d+)\.(?:rdb|RDB)(\d)\.conv(\d)\.", r"model.1.sub.\1.RDB\2.conv\3.0."),
]


def to_original_layout(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR / Real-ESRGAN names -> the original ``model.N`` layout (original keys are kept as they are)."""
    if "model.0.weight" in sd:
        return {k: sd[k] for k in sd}
    nb = 1 + max((int(m.group(1)) for k in sd if (m := re.match(r"^(?:body|RRDB_trunk)\.(\d+)\.", k))), default=-1)
    ups = sorted({int(m.group(1)) for k in sd if (m := re.match(r"^(?:conv_up|upconv)(\d)\.", k))})
    fixed = {"conv_body": f"model.1.sub.{nb}", "trunk_conv": f"model.1.sub.{nb}",
             "conv_hr": f"model.{3 * len(ups) + 2}", "HRconv": f"model.{3 * len(ups) + 2}",
             "conv_last": f"model.{3 * len(ups) + 4}"}
    fixed |= {f"{name}{u}": f"model.{3 * u}" for u in ups for name in ("conv_up", "upconv")}
    out = {}
    for key in sd:
        new = key
        head, _, tail = key.partition(".")
        if head in fixed:
            new = f"{fixed[head]}.{tail}"
        for pattern, repl in _NEW_NAMES:
            new = re.sub(pattern, repl, new)
        out[new] = sd[key]
    return out


def rrdb_config_from_keys(sd: Mapping[str, torch.Tensor]) -> RRDBConfig | None:
    """The RRDBNet of an original-layout state dict, None when it is none."""
    if "model.0.weight" not in sd or "model.1.sub.0.RDB1.conv1.0.weight" not in sd:
        return None
    nf, in_nc = sd["model.0.weight"].shape[:2]
    gc = sd["model.1.sub.0.RDB1.conv1.0.weight"].shape[0]
    nb = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"^model\.1\.sub\.(\d+)\.RDB", k)))
    convs = sorted({int(m.group(1)) for k in sd if (m := re.match(r"^model\.(\d+)\.weight$", k))} - {0})
    last = sd[f"model.{convs[-1]}.weight"]
    out_nc = last.shape[0]
    ratio = in_nc // out_nc if in_nc % out_nc == 0 else 1
    unshuffle = {4: 2, 16: 4}.get(ratio, 1)
    return RRDBConfig(in_nc=int(in_nc), out_nc=int(out_nc), nf=int(nf), gc=int(gc), nb=nb,
                      upsamples=len(convs) - 2, unshuffle=unshuffle)


__all__ = ["RRDBConfig", "RRDBNet", "rrdb_config_from_keys", "to_original_layout"]
