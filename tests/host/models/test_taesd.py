"""TAESD previews: the decoder in the published file's key layout, found in models/vae_approx, used by
``auto``/``taesd``; Latent2RGB when the file is absent; a wrong file is a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from builtin_nodes.previews import previewer
from host.folders import ModelFolders
from host.models.errors import ModelFileError
from host.models.manager import ModelManager
from host.models.taesd import decoder, load_decoder, preview


def write_decoder(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    sd = {k: torch.randn(v.shape) * 0.05 for k, v in decoder().state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(path))
    return path


def test_key_layout_is_the_published_files() -> None:
    keys = list(decoder().state_dict())
    # taesd_decoder.safetensors: conv in (1.*), 10 blocks of 3 convs, 3 bias-free convs after the upsamples, conv out
    assert len(keys) == 2 + 10 * 3 * 2 + 3 + 2
    assert keys[:4] == ["1.weight", "1.bias", "3.conv.0.weight", "3.conv.0.bias"]
    assert "7.weight" in keys and "7.bias" not in keys and "12.weight" in keys and "17.weight" in keys
    assert keys[-2:] == ["19.weight", "19.bias"]


def test_decodes_to_8x_the_latent(tmp_path: Path) -> None:
    model = load_decoder(write_decoder(tmp_path / "taesd_decoder.safetensors"))
    image = preview(model, torch.randn(2, 4, 5, 7))
    assert image.size == (56, 40) and image.mode == "RGB"


def test_auto_and_taesd_use_the_decoder_when_present(tmp_path: Path) -> None:
    class Model:
        latent_channels = 4

    manager = ModelManager(folders=ModelFolders(tmp_path / "models"))
    x0 = torch.randn(1, 4, 6, 6)
    assert previewer("auto", Model(), manager)(x0)[1].size == (6, 6)  # no file yet: Latent2RGB
    assert previewer("taesd", Model(), manager)(x0)[1].size == (6, 6)
    write_decoder(tmp_path / "models" / "vae_approx" / "taesd_decoder.safetensors")
    fmt, image, size = previewer("auto", Model(), manager)(x0)
    assert (fmt, image.size, size) == ("JPEG", (48, 48), 512)
    assert previewer("taesd", Model(), manager)(x0)[1].size == (48, 48)
    assert previewer("latent2rgb", Model(), manager)(x0)[1].size == (6, 6)
    assert np.asarray(image).std() > 0


def test_a_file_that_is_not_a_taesd_decoder_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "taesd_decoder.safetensors"
    save_file({"weight": torch.zeros(3)}, str(bad))
    with pytest.raises(ModelFileError, match="TAESD"):
        load_decoder(bad)
