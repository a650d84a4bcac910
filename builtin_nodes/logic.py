"""Logic nodes (ComfyUI's comfy_extras.nodes_logic): the lazy Switch and CustomCombo."""

from __future__ import annotations

from typing import Any

from isolate.api import io

_MODULE = "comfy_extras.nodes_logic"


class ComfySwitchNode(io.ComfyNode):
    """Passes ``on_true`` or ``on_false`` through; only the chosen input is evaluated (both are lazy)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        template = io.MatchType.Template("switch")
        return io.Schema(
            node_id="ComfySwitchNode", display_name="Switch", category="logic", is_experimental=True,
            python_module=_MODULE,
            inputs=[io.Boolean.Input("switch"), io.MatchType.Input("on_false", template, lazy=True),
                    io.MatchType.Input("on_true", template, lazy=True)],
            outputs=[io.MatchType.Output(template, display_name="output")])

    @classmethod
    def check_lazy_status(cls, switch: bool, on_false: Any = None, on_true: Any = None) -> list[str]:
        if switch and on_true is None:
            return ["on_true"]
        if not switch and on_false is None:
            return ["on_false"]
        return []

    @classmethod
    def execute(cls, switch: bool, on_false: Any = None, on_true: Any = None) -> io.NodeOutput:
        return io.NodeOutput(on_true if switch else on_false)


class CustomCombo(io.ComfyNode):
    """A dropdown whose options the frontend keeps (the backend declares none); the chosen option passes
    through as a STRING. ``validate_inputs`` takes ``choice``, so the combo's (empty) option list is not
    checked, as in ComfyUI."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="CustomCombo", display_name="Custom Combo", category="utils", is_experimental=True,
            python_module=_MODULE, inputs=[io.Combo.Input("choice", options=[])], outputs=[io.String.Output()])

    @classmethod
    def validate_inputs(cls, choice: str) -> bool:
        return True

    @classmethod
    def execute(cls, choice: str) -> io.NodeOutput:
        return io.NodeOutput(choice)


NODES = [ComfySwitchNode, CustomCombo]
