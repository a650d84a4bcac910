"""What file- and model-reading builtin nodes are given: their folders (bound to the classes at load, like the
output paths) and the host's model manager (from the running node's context, set by the executor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host.folders import ModelFolders
    from host.models.manager import ModelManager


class NoModelManager(RuntimeError):
    """A model node ran outside an executor that has a model manager."""


@dataclass(frozen=True)
class NodeFolders:
    """The input folder (LoadImage), the output and temp folders (``name [output]`` annotations) and the
    model folders (combo lists of model files, read again whenever /object_info or validation asks)."""

    input_dir: Path
    output_dir: Path
    temp_dir: Path
    models: ModelFolders = field(repr=False)

    @classmethod
    def default(cls, output_dir: Path, temp_dir: Path, base: Path | None = None) -> NodeFolders:
        from host.folders import ModelFolders

        root = (base or Path.cwd()).resolve()
        return cls(root / "input", output_dir, temp_dir, ModelFolders(root / "models"))

    def annotated(self, name: str) -> Path:
        """``name`` in the input folder, or in the output/temp folder for ``name [output]`` / ``name [temp]``
        (ComfyUI's annotated file names); ``..`` and absolute names are refused."""
        from host.server.safe_paths import check_relative

        root = self.input_dir
        for suffix, folder in ((" [output]", self.output_dir), (" [input]", self.input_dir),
                               (" [temp]", self.temp_dir)):
            if name.endswith(suffix):
                name, root = name[: -len(suffix)], folder
                break
        return root.joinpath(*check_relative(name, "image", status=400))


def manager() -> ModelManager:
    """The model manager of the running prompt."""
    from isolate.context import current_node

    ctx = current_node()
    models: Any = ctx.models if ctx is not None else None
    if models is None:
        raise NoModelManager("this node needs the host's model manager; run it through nodehost's executor")
    return models


__all__ = ["NoModelManager", "NodeFolders", "manager"]
