"""ComfyUI's ``extra_model_paths.yaml``: each top-level section may have a ``base_path`` and folder keys; the
``custom_nodes`` key lists extra folders of node packs (paths relative to ``base_path``, else to the yaml's own
folder). Reading the yaml is PyYAML's job."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_sections(config: Path) -> dict[str, dict[str, Any]]:
    import yaml

    data = yaml.safe_load(config.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{config}: expected a mapping of sections")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def _paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def custom_node_dirs(config: Path) -> list[Path]:
    """The pack folders a config names under ``custom_nodes``, resolved as ComfyUI resolves them."""
    dirs: list[Path] = []
    for section in read_sections(config).values():
        base = Path(section.get("base_path") or config.parent).expanduser()
        if not base.is_absolute():
            base = config.parent / base
        for entry in _paths(section.get("custom_nodes")):
            path = Path(entry).expanduser()
            dirs.append((path if path.is_absolute() else base / path).resolve())
    return list(dict.fromkeys(dirs))
