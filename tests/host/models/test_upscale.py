"""Upscale models: the ESRGAN key layouts (original and BasicSR), loading, scale and shape, tiled against
untiled, the smaller tile after out-of-memory, bad files; spandrel's result where spandrel imports."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from host.models.errors import CorruptModelFile, ModelFileError, UnknownArchitecture
from host.models.esrgan import RRDBConfig, RRDBNet, rrdb_config_from_keys, to_original_layout
from host.models.testing.control_layouts import write_random
from host.models.testing.upscale_layouts import esrgan_layout
from host.models.upscale import UpscaleModel, _spandrel, load_upscale_model, upscale_image

pytestmark = pytest.mark.timeout(120)


def _as_tensors(shapes: dict) -> dict[str, torch.Tensor]:
    return {k: torch.empty(v, device="meta") for k, v in shapes.items()}


@pytest.mark.parametrize("basicsr", [False, True], ids=["original", "basicsr"])
def test_esrgan_layouts_are_the_rrdbnet(basicsr: bool) -> None:
    sd = to_original_layout(_as_tensors(esrgan_layout(basicsr=basicsr)))
    cfg = rrdb_config_from_keys(sd)
    assert cfg == RRDBConfig() and cfg.scale == 4
    with torch.device("meta"):
        net = RRDBNet(cfg)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == {k: tuple(v.shape) for k, v in sd.items()}
    two = rrdb_config_from_keys(to_original_layout(_as_tensors(esrgan_layout(upsamples=1, basicsr=basicsr))))
    assert two.scale == 2 and two.upsamples == 1


def _tiny(tmp_path: Path, name: str = "4x_tiny.safetensors", **kw) -> Path:
    return write_random(esrgan_layout(nf=32, gc=16, nb=1, **kw), tmp_path / name, dtype=torch.float32)


def test_upscale_shape_and_tiled_equals_untiled(tmp_path: Path) -> None:
    model = load_upscale_model(_tiny(tmp_path), use_spandrel=False)
    assert model.scale == 4 and model.architecture == "ESRGAN"
    image = torch.rand(2, 40, 56, 3, generator=torch.Generator().manual_seed(0))
    steps: list[tuple[int, int]] = []
    whole = upscale_image(model, image, progress=lambda d, t: steps.append((d, t)))
    assert whole.shape == (2, 160, 224, 3) and 0.0 <= float(whole.min()) and float(whole.max()) <= 1.0
    assert steps == [(1, 2), (2, 2)]
    tiles = upscale_image(model, image, tile=32, overlap=8)
    diff = (tiles - whole).abs()  # the tiles see less context near their edges (the feathered seams)
    assert diff.mean() < 0.01 and (diff > 0.05).float().mean() < 0.02


def test_real_esrgan_x2_unshuffles_its_input(tmp_path: Path) -> None:
    path = write_random(esrgan_layout(nf=32, gc=16, nb=1, in_nc=12, basicsr=True), tmp_path / "x2.pth.safetensors",
                        dtype=torch.float32)
    model = load_upscale_model(path, use_spandrel=False)
    assert model.scale == 2 and model.in_channels == 3
    assert upscale_image(model, torch.rand(1, 16, 24, 3)).shape == (1, 32, 48, 3)


def test_out_of_memory_halves_the_tile(tmp_path: Path) -> None:
    sizes: list[int] = []

    def fn(x: torch.Tensor) -> torch.Tensor:
        sizes.append(x.shape[-1])
        if x.shape[-1] > 128:
            raise torch.OutOfMemoryError("too big")
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    model = UpscaleModel(fn, torch.nn.Identity(), 2.0, "nearest")
    image = torch.rand(1, 300, 300, 3)
    out = upscale_image(model, image)
    assert sizes[:2] == [300, 256] and max(sizes[2:]) == 128  # 512 (the whole image) failed, 256 failed, 128 ran
    assert torch.allclose(out, torch.nn.functional.interpolate(image.movedim(-1, 1), scale_factor=2).movedim(1, -1))
    with pytest.raises(torch.OutOfMemoryError):
        upscale_image(model, image, min_tile=256)


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelFileError, match="corrupt.pth"):
        load_upscale_model(corrupt, use_spandrel=False)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{")
    with pytest.raises(CorruptModelFile, match="truncated.safetensors"):
        load_upscale_model(truncated, use_spandrel=False)
    other = write_random({"layers.0.weight": (4, 4)}, tmp_path / "swin.safetensors")
    with pytest.raises(UnknownArchitecture, match="spandrel"):
        load_upscale_model(other, use_spandrel=False)


def test_spandrel_loads_the_same_network(tmp_path: Path) -> None:
    if _spandrel() is None:
        pytest.skip("spandrel cannot be imported here (it needs a torchvision built for this torch)")
    path = _tiny(tmp_path)
    ours, theirs = load_upscale_model(path, use_spandrel=False), load_upscale_model(path)
    assert theirs.scale == 4
    image = torch.rand(1, 24, 24, 3)
    assert torch.allclose(upscale_image(ours, image), upscale_image(theirs, image), atol=1e-5)
