"""The builtin nodes render exactly ComfyUI's /object_info entries (names, inputs, defaults, key sets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from host.folders import ModelFolders
from host.registry import Registry

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "comfyui_object_info_core.json"

#: every node we ship; each is compared with its reference entry key for key
SHIPPED = {
    "EmptyImage", "ImageInvert", "PreviewImage", "SaveImage", "ImageScaleBy", "ImageBatch",
    "PrimitiveInt", "PrimitiveFloat", "PrimitiveString", "PrimitiveStringMultiline", "PrimitiveBoolean",
    "RebatchImages", "RebatchLatents", "PreviewAny",
    "StringConcatenate", "StringSubstring", "StringLength", "CaseConverter", "StringTrim", "StringReplace",
    "StringContains", "StringCompare", "RegexMatch", "RegexExtract", "RegexReplace", "ComfySwitchNode",
    # models, conditioning, latents, image files (issue 16)
    "CheckpointLoaderSimple", "CheckpointLoader", "VAELoader", "UNETLoader", "CLIPLoader", "CLIPSetLastLayer",
    "CLIPTextEncode", "ConditioningCombine", "ConditioningConcat", "ConditioningAverage", "ConditioningSetArea",
    "ConditioningSetAreaPercentage", "ConditioningSetAreaStrength", "ConditioningSetMask", "ConditioningZeroOut",
    "ConditioningSetTimestepRange", "EmptyLatentImage", "KSampler", "KSamplerAdvanced", "VAEDecode", "VAEEncode",
    "VAEEncodeForInpaint", "VAEDecodeTiled", "VAEEncodeTiled", "SetLatentNoiseMask", "InpaintModelConditioning",
    "LatentUpscale", "LatentUpscaleBy", "LoadImage", "LoadImageMask", "ImageScale",
    # model-free masks, images, latents, latent files (issue 17, imagenodes)
    "CropMask", "FeatherMask", "GrowMask", "ImageColorToMask", "ImageCompositeMasked", "ImageToMask", "InvertMask",
    "LatentCompositeMasked", "MaskComposite", "MaskPreview", "MaskToImage", "SolidMask", "ThresholdMask",
    "GetImageSize", "ImageAddNoise", "ImageCrop", "ImageFlip", "ImageFromBatch", "ImageRotate",
    "ImageScaleToMaxDimension", "ImageStitch", "RepeatImageBatch", "ResizeAndPadImage", "SaveAnimatedPNG",
    "SaveAnimatedWEBP", "SaveSVGNode", "LatentAdd", "LatentApplyOperation", "LatentApplyOperationCFG", "LatentBatch",
    "LatentBatchSeedBehavior", "LatentConcat", "LatentCut", "LatentCutToBatch", "LatentInterpolate", "LatentMultiply",
    "LatentOperationSharpen", "LatentOperationTonemapReinhard", "LatentSubtract", "ReplaceVideoLatentFrames",
    "ImagePadForOutpaint", "LatentBlend", "LatentComposite", "LatentCrop", "LatentFlip", "LatentFromBatch",
    "LatentRotate", "RepeatLatentBatch", "SaveLatent", "LoadLatent", "LoadImageOutput", "CustomCombo",
    # comfy_extras.nodes_custom_sampler (issue 17)
    "AddNoise", "BasicGuider", "BasicScheduler", "BetaSamplingScheduler", "CFGGuider", "DisableNoise",
    "DualCFGGuider", "ExponentialScheduler", "ExtendIntermediateSigmas", "FlipSigmas", "KSamplerSelect",
    "KarrasScheduler", "LaplaceScheduler", "ManualSigmas", "PolyexponentialScheduler", "RandomNoise",
    "SDTurboScheduler", "SamplerCustom", "SamplerCustomAdvanced", "SamplerDPMAdaptative", "SamplerDPMPP_2M_SDE",
    "SamplerDPMPP_2S_Ancestral", "SamplerDPMPP_3M_SDE", "SamplerDPMPP_SDE", "SamplerER_SDE",
    "SamplerEulerAncestral", "SamplerEulerAncestralCFGPP", "SamplerLMS", "SamplerSASolver", "SamplerSEEDS2",
    "SamplingPercentToSigma", "SetFirstSigma", "SplitSigmas", "SplitSigmasDenoise", "VPScheduler",
    "LoraLoader", "LoraLoaderModelOnly",  # issue 17: LoRA
    # ControlNet, upscale models, CLIP vision, style models, unCLIP, GLIGEN, diffusers (issue 17)
    "ControlNetLoader", "DiffControlNetLoader", "ControlNetApply", "ControlNetApplyAdvanced",
    "UpscaleModelLoader", "ImageUpscaleWithModel",
    "CLIPVisionLoader", "CLIPVisionEncode",
    "StyleModelLoader", "StyleModelApply",
    "unCLIPCheckpointLoader", "unCLIPConditioning",
    "GLIGENLoader", "GLIGENTextBoxApply",
    "DiffusersLoader",
    "DualCLIPLoader",  # SDXL (issue 17)
}
#: shipped nodes outside the 162-type reference (comfy_extras.nodes_clip_sdxl): tests/builtin_nodes/test_clip_sdxl.py
NOT_IN_REFERENCE = {"CLIPTextEncodeSDXL", "CLIPTextEncodeSDXLRefiner"}
EXPECTED = SHIPPED | NOT_IN_REFERENCE

#: the files stock ComfyUI had when the reference was taken (its shipped configs, the example input image)
REFERENCE_CONFIGS = ["anything_v3.yaml", "v1-inference.yaml", "v1-inference_clip_skip_2.yaml",
                     "v1-inference_clip_skip_2_fp16.yaml", "v1-inference_fp16.yaml", "v1-inpainting-inference.yaml",
                     "v2-inference-v.yaml", "v2-inference-v_fp32.yaml", "v2-inference.yaml", "v2-inference_fp32.yaml",
                     "v2-inpainting-inference.yaml"]


@pytest.fixture
def comfy_like_registry(tmp_path: Path, paths: OutputPaths) -> Registry:
    """Builtin nodes over folders holding what stock ComfyUI's held: its config files and example.png."""
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "example.png").write_bytes(b"")
    (tmp_path / "models" / "configs").mkdir(parents=True)
    for name in REFERENCE_CONFIGS:
        (tmp_path / "models" / "configs" / name).write_text("{}")
    reg = Registry()
    load_builtin(reg, paths, NodeFolders(tmp_path / "input", paths.output_dir, paths.temp_dir,
                                         ModelFolders(tmp_path / "models")))
    return reg.freeze()


def test_every_builtin_class_loads(registry: Registry) -> None:
    assert registry.failures == {} and registry.conflicts == []
    assert set(registry.nodes) == EXPECTED


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/ reference data not beside the checkout")
def test_builtin_object_info_matches_comfyui_key_for_key(comfy_like_registry: Registry) -> None:
    reference = json.loads(REFERENCE.read_text())
    ours = json.loads(json.dumps(comfy_like_registry.object_info()))
    assert set(ours) == EXPECTED
    for name, info in ours.items():
        if name not in NOT_IN_REFERENCE:
            assert info == reference[name], name


def test_object_info_single_and_unknown(registry: Registry) -> None:
    assert list(registry.object_info("ImageInvert")) == ["ImageInvert"]
    assert registry.object_info("NoSuchNode") == {}


def test_ksampler_combos_are_the_sampling_tables() -> None:
    """Every name the combos offer has its sampler or scheduler function, in the combo's order."""
    from host.models.sampling import SAMPLER_NAMES, SAMPLERS, SCHEDULER_NAMES, SCHEDULERS

    assert list(SAMPLERS) == list(SAMPLER_NAMES)
    assert list(SCHEDULERS) == list(SCHEDULER_NAMES)
