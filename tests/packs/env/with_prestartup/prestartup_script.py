# runs before the pack's __init__: registers a model folder the pack reads at import
import os

import folder_paths

folder_paths.add_model_folder_path("prestartup_models", os.path.join(os.path.dirname(__file__), "models"))
