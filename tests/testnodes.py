"""Node classes that several test modules use (import them: ``from testnodes import Show``; tests/ is on
pytest's pythonpath)."""

from __future__ import annotations


class Value:
    """An INT source: returns its input."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        return (v,)


class Show:
    """An output node showing an INT in its ui (``{"v": [value]}``)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v):
        return {"ui": {"v": [v]}}
