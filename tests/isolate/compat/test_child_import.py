"""Every compat module imports in a fresh isolated interpreter set up as an extension child is (``python -I``, the
compat folder installed), with the names packs use, without importing torch; one missing name fails a whole
pack at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from isolate import child_services

NAMES = {
    "folder_paths": ["folder_names_and_paths", "supported_pt_extensions", "base_path", "models_dir",
                     "output_directory", "input_directory", "temp_directory", "user_directory",
                     "get_output_directory", "get_input_directory", "get_temp_directory", "get_user_directory",
                     "set_output_directory", "set_input_directory", "set_temp_directory", "set_user_directory",
                     "get_folder_paths", "get_filename_list", "get_full_path", "get_full_path_or_raise",
                     "add_model_folder_path", "get_annotated_filepath", "exists_annotated_filepath",
                     "annotated_filepath", "get_save_image_path", "filter_files_extensions", "recursive_search",
                     "map_legacy", "get_input_subfolders", "get_directory_by_type", "filename_list_cache",
                     "cache_helper", "filter_files_content_types"],
    "comfy.utils": ["ProgressBar", "PROGRESS_BAR_ENABLED", "set_progress_bar_enabled", "load_torch_file",
                    "save_torch_file", "common_upscale", "repeat_to_batch_size", "state_dict_prefix_replace",
                    "tiled_scale", "get_tiled_scale_steps", "lanczos", "set_progress_bar_global_hook"],
    "comfy.model_management": ["InterruptProcessingException", "interrupt_current_processing",
                               "processing_interrupted", "throw_exception_if_processing_interrupted",
                               "get_torch_device", "intermediate_device", "unet_offload_device",
                               "text_encoder_device", "vae_device", "is_device_cpu", "is_device_cuda",
                               "is_device_mps", "cpu_mode", "get_free_memory", "get_total_memory",
                               "soft_empty_cache", "unload_all_models", "load_models_gpu", "should_use_fp16",
                               "should_use_bf16", "vae_dtype", "unet_dtype", "xformers_enabled", "cast_to_device",
                               "VRAMState", "CPUState"],
    "comfy.comfy_types": ["IO", "ComfyNodeABC", "InputTypeDict", "CheckLazyMixin", "FileLocator",
                          "UnetApplyFunction", "UnetParams", "UnetWrapperFunction"],
    "comfy.comfy_types.node_typing": ["IO", "ComfyNodeABC", "InputTypeDict", "InputTypeOptions",
                                      "HiddenInputTypeDict", "CheckLazyMixin", "FileLocator"],
    "comfy_execution.graph_utils": ["GraphBuilder", "Node", "is_link", "add_graph_prefix", "ExecutionBlocker"],
    "comfy_execution.graph": ["ExecutionBlocker", "DynamicPrompt", "get_input_info"],
    "server": ["PromptServer", "BinaryEventTypes"],
    "nodes": ["MAX_RESOLUTION", "NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "interrupt_processing",
              "before_node_execution"],
    "node_helpers": ["conditioning_set_values", "pillow", "hasher", "string_to_torch_dtype", "image_alpha_fix"],
}

CHILD = """
import importlib, json, sys
import isolate.compat_path
isolate.compat_path.install()
names = json.loads(sys.argv[1])
missing = [f"{mod}.{name}" for mod, wanted in names.items()
           for name in wanted if not hasattr(importlib.import_module(mod), name)]
torch_at_import = "torch" in sys.modules
import folder_paths, server, comfy.model_management as mm, comfy.utils, isolate.context
from comfy.model_management import OOM_EXCEPTION
inst = server.PromptServer.instance
@inst.routes.get("/child/route")
async def handler(request):
    return None
from isolate.child_services import services
print(json.dumps({
    "missing": missing,
    "torch_at_import": torch_at_import,
    "output": folder_paths.get_output_directory(),
    "models_dir": folder_paths.models_dir,
    "ckpt_paths": folder_paths.get_folder_paths("checkpoints"),
    "device": str(mm.get_torch_device()),
    "same_exception": mm.InterruptProcessingException is isolate.context.InterruptProcessingException,
    "routes": services().route_table()["routes"],
    "compat_first": sys.path[0] == str(isolate.compat_path.COMPAT_DIR),
    "from_compat": all(sys.modules[m].__file__.startswith(str(isolate.compat_path.COMPAT_DIR)) for m in
                       ("folder_paths", "server", "nodes", "node_helpers", "comfy", "comfy_execution")),
}))
"""


def test_every_module_imports_in_a_child_process(tmp_path: Path) -> None:
    folders = {"output": str(tmp_path / "o"), "models_dir": str(tmp_path / "m"),
               "folders": {"checkpoints": [[str(tmp_path / "ck")], [".safetensors"]]}}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env[child_services.ENV_VAR] = json.dumps(folders)
    done = subprocess.run([sys.executable, "-I", "-c", textwrap.dedent(CHILD), json.dumps(NAMES)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["missing"] == []
    assert out["torch_at_import"] is False
    assert out["output"] == folders["output"] and out["models_dir"] == folders["models_dir"]
    assert out["ckpt_paths"] == [str(tmp_path / "ck")]
    assert out["device"] in ("cpu", "mps") or out["device"].startswith("cuda:")
    assert out["same_exception"] and out["compat_first"] and out["from_compat"]
    assert out["routes"] == [{"method": "GET", "path": "/child/route", "handler": "__main__.handler"}]
