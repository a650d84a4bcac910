"""ComfyUI's base packages: what ComfyUI's own requirements.txt installs, which packs import without declaring.

They are host dependencies (pyproject.toml), so every pack sees them through the host's site-packages, which a
pack venv puts after its own (isolate/venv.py): a pack that declares one of them gets its own version, the
others get the host's. spandrel is the one left out of nodehost's dependencies: it needs a torchvision built
for the host's torch (packs see it when it is installed beside nodehost anyway, as every host package).
"""

from __future__ import annotations

from importlib import metadata

#: distribution -> the module a pack imports
COMFYUI_BASE = {
    "torchsde": "torchsde", "einops": "einops", "transformers": "transformers", "tokenizers": "tokenizers",
    "sentencepiece": "sentencepiece", "safetensors": "safetensors", "aiohttp": "aiohttp", "yarl": "yarl",
    "pyyaml": "yaml", "pillow": "PIL", "numpy": "numpy", "scipy": "scipy", "tqdm": "tqdm", "psutil": "psutil",
    "alembic": "alembic", "sqlalchemy": "sqlalchemy", "av": "av", "kornia": "kornia", "pydantic": "pydantic",
    "pydantic-settings": "pydantic_settings",
    # not in ComfyUI's list but in every ComfyUI environment: transformers 4.x and huggingface-hub < 1 (what
    # ComfyUI's pins installed until transformers 5) depend on it; packs import it undeclared (rgthree-comfy)
    "requests": "requests",
}
#: in ComfyUI's list but not provided, and why
LEFT_OUT = {"spandrel": "not a nodehost dependency: it needs a torchvision built for the host's torch "
                        "(pip install 'nodehost[upscale]' beside one)"}


def provided() -> dict[str, str | None]:
    """Each base distribution with the version the host has (None: missing from the host)."""
    found: dict[str, str | None] = {}
    for dist in COMFYUI_BASE:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found
