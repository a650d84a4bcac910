"""DiffusersLoader's renames: every LDM key of the SD1.5 / SD2.1 / small UNets and the KL VAE comes back from its
diffusers name (the test writer's independent account of diffusers' names, checked against diffusers' own
modules when this was written); the lazy renaming view; folder discovery and a missing part."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from builtin_nodes.diffusers_nodes import find_diffusers_models
from host.models.diffusers_loading import DiffusersFolderError, Renamed, load_diffusers, unet_names, vae_names
from host.models.testing.diffusers_folder import unet_key, vae_key
from host.models.testing.layouts import SD15_UNET, SD21_UNET, UNetLayout, unet_layout, vae_layout

pytestmark = pytest.mark.timeout(120)
SMALL = UNetLayout(**{**SD15_UNET.__dict__, "channel_mult": (1,), "num_res_blocks": 1, "attn_levels": (0,)})


@pytest.mark.parametrize("lay", [SD15_UNET, SD21_UNET, SMALL], ids=["sd15", "sd21", "small"])
def test_unet_names_invert_the_diffusers_layout(lay: UNetLayout) -> None:
    ldm = list(unet_layout(lay))
    names = unet_names([unet_key(k, lay.num_res_blocks) for k in ldm])
    assert names == {k: unet_key(k, lay.num_res_blocks) for k in ldm}


def test_vae_names_invert_the_diffusers_layout() -> None:
    ldm = list(vae_layout())
    assert vae_names([vae_key(k, 4) for k in ldm]) == {k: vae_key(k, 4) for k in ldm}


def test_renamed_view_reads_lazily_and_reshapes() -> None:
    class Counting(dict):
        reads = 0

        def __getitem__(self, key: str) -> torch.Tensor:
            Counting.reads += 1
            return super().__getitem__(key)

        def shape(self, key: str) -> tuple[int, ...]:  # as the lazy file mappings: from the header
            return tuple(dict.__getitem__(self, key).shape)

    sd = Counting({"a": torch.ones(2, 3)})
    view = Renamed(sd, {"b": "a"}, lambda k, t: t.reshape(*t.shape, 1, 1), lambda k, s: (*s, 1, 1))
    assert view.shape("b") == (2, 3, 1, 1) and Counting.reads == 0
    assert view["b"].shape == (2, 3, 1, 1) and list(view) == ["b"]


def test_folders_and_missing_parts(tmp_path: Path) -> None:
    (tmp_path / "sd" / "unet").mkdir(parents=True)
    (tmp_path / "sd" / "model_index.json").write_text("{}")
    (tmp_path / "other").mkdir()
    assert find_diffusers_models([tmp_path, tmp_path / "nope"]) == ["sd"]
    with pytest.raises(DiffusersFolderError, match="no unet weights"):
        load_diffusers(tmp_path / "sd")
