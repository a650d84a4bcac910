"""ComfyUI's ``comfy_execution`` package for node packs: ``graph_utils`` (GraphBuilder, ExecutionBlocker) and
``graph`` (DynamicPrompt, ExecutionBlocker, get_input_info), backed by nodehost's own objects."""
