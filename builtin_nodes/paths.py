"""File naming for saved images lives in isolate.paths (node code in a child uses it too)."""

from isolate.paths import OutputPaths, PathEscapeError, save_image_path

__all__ = ["OutputPaths", "PathEscapeError", "save_image_path"]
