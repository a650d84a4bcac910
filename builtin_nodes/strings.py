"""String nodes (ComfyUI's comfy_extras.nodes_string): concatenate, substring, length, case, trim, replace,
contains, compare and the three regex nodes. Pure functions of their inputs."""

from __future__ import annotations

import re

from isolate.api import io

_MODULE = "comfy_extras.nodes_string"
_CATEGORY = "utils/string"

_DOTALL_TOOLTIP = ("When enabled, the dot (.) character will match any character including newline characters. "
                   "When disabled, dots won't match newlines.")
_COUNT_TOOLTIP = ("Maximum number of replacements to make. Set to 0 to replace all occurrences (default). "
                  "Set to 1 to replace only the first match, 2 for the first two matches, etc.")


def _schema(node_id: str, display_name: str, inputs: list[io.Input], outputs: list[io.Output],
            description: str = "") -> io.Schema:
    return io.Schema(node_id=node_id, display_name=display_name, category=_CATEGORY, python_module=_MODULE,
                     description=description, inputs=inputs, outputs=outputs)


def _text(name: str) -> io.String.Input:
    return io.String.Input(name, multiline=True)


def _flags(case_insensitive: bool, multiline: bool, dotall: bool) -> int:
    flags = 0
    if case_insensitive:
        flags |= re.IGNORECASE
    if multiline:
        flags |= re.MULTILINE
    if dotall:
        flags |= re.DOTALL
    return flags


def _flag_inputs(optional: bool = False) -> list[io.Input]:
    return [io.Boolean.Input("case_insensitive", default=True, optional=optional),
            io.Boolean.Input("multiline", default=False, optional=optional),
            io.Boolean.Input("dotall", default=False, optional=optional,
                             tooltip=_DOTALL_TOOLTIP if optional else None)]


class StringConcatenate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("StringConcatenate", "Concatenate",
                       [_text("string_a"), _text("string_b"), io.String.Input("delimiter", default="")],
                       [io.String.Output()])

    @classmethod
    def execute(cls, string_a: str, string_b: str, delimiter: str = "") -> io.NodeOutput:
        return io.NodeOutput(f"{string_a}{delimiter}{string_b}")


class StringSubstring(io.ComfyNode):
    """``string[start:end]``: Python slice semantics, negative indices count from the end."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("StringSubstring", "Substring",
                       [_text("string"), io.Int.Input("start"), io.Int.Input("end")], [io.String.Output()])

    @classmethod
    def execute(cls, string: str, start: int, end: int) -> io.NodeOutput:
        return io.NodeOutput(string[start:end])


class StringLength(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("StringLength", "Length", [_text("string")], [io.Int.Output(display_name="length")])

    @classmethod
    def execute(cls, string: str) -> io.NodeOutput:
        return io.NodeOutput(len(string))


_CASES = {"UPPERCASE": str.upper, "lowercase": str.lower, "Capitalize": str.capitalize, "Title Case": str.title}


class CaseConverter(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("CaseConverter", "Case Converter",
                       [_text("string"), io.Combo.Input("mode", options=list(_CASES))], [io.String.Output()])

    @classmethod
    def execute(cls, string: str, mode: str) -> io.NodeOutput:
        convert = _CASES.get(mode)
        return io.NodeOutput(convert(string) if convert else string)


_TRIMS = {"Both": str.strip, "Left": str.lstrip, "Right": str.rstrip}


class StringTrim(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("StringTrim", "Trim", [_text("string"), io.Combo.Input("mode", options=list(_TRIMS))],
                       [io.String.Output()])

    @classmethod
    def execute(cls, string: str, mode: str) -> io.NodeOutput:
        trim = _TRIMS.get(mode)
        return io.NodeOutput(trim(string) if trim else string)


class StringReplace(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("StringReplace", "Replace", [_text("string"), _text("find"), _text("replace")],
                       [io.String.Output()])

    @classmethod
    def execute(cls, string: str, find: str, replace: str) -> io.NodeOutput:
        return io.NodeOutput(string.replace(find, replace))


class StringContains(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("StringContains", "Contains",
                       [_text("string"), _text("substring"), io.Boolean.Input("case_sensitive", default=True)],
                       [io.Boolean.Output(display_name="contains")])

    @classmethod
    def execute(cls, string: str, substring: str, case_sensitive: bool = True) -> io.NodeOutput:
        if not case_sensitive:
            string, substring = string.lower(), substring.lower()
        return io.NodeOutput(substring in string)


class StringCompare(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("StringCompare", "Compare",
                       [_text("string_a"), _text("string_b"),
                        io.Combo.Input("mode", options=["Starts With", "Ends With", "Equal"]),
                        io.Boolean.Input("case_sensitive", default=True)],
                       [io.Boolean.Output()])

    @classmethod
    def execute(cls, string_a: str, string_b: str, mode: str, case_sensitive: bool = True) -> io.NodeOutput:
        a, b = (string_a, string_b) if case_sensitive else (string_a.lower(), string_b.lower())
        if mode == "Starts With":
            return io.NodeOutput(a.startswith(b))
        if mode == "Ends With":
            return io.NodeOutput(a.endswith(b))
        if mode == "Equal":
            return io.NodeOutput(a == b)
        raise ValueError(f"StringCompare: unknown mode {mode!r}")


class RegexMatch(io.ComfyNode):
    """True when the pattern is found anywhere in the string; an invalid pattern is no match."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("RegexMatch", "Regex Match", [_text("string"), _text("regex_pattern"), *_flag_inputs()],
                       [io.Boolean.Output(display_name="matches")])

    @classmethod
    def execute(cls, string: str, regex_pattern: str, case_insensitive: bool = True, multiline: bool = False,
                dotall: bool = False) -> io.NodeOutput:
        try:
            found = re.search(regex_pattern, string, _flags(case_insensitive, multiline, dotall)) is not None
        except re.error:
            found = False
        return io.NodeOutput(found)


_EXTRACT_MODES = ["First Match", "All Matches", "First Group", "All Groups"]


def _extract(string: str, pattern: re.Pattern[str], mode: str, group_index: int) -> str:
    if mode == "First Match":
        match = pattern.search(string)
        return match.group(0) if match else ""
    if mode == "All Matches":
        # like re.findall: the whole match, or the first group's text when the pattern has groups
        matches = list(pattern.finditer(string))
        return "\n".join((m.group(1) or "") if pattern.groups else m.group(0) for m in matches)
    if mode == "First Group":
        match = pattern.search(string)
        if match is None or pattern.groups < group_index:
            return ""
        return match.group(group_index) or ""
    if mode == "All Groups":
        if pattern.groups < max(group_index, 1):
            return ""
        return "\n".join(m.group(group_index) or "" for m in pattern.finditer(string))
    return ""


class RegexExtract(io.ComfyNode):
    """First Match / All Matches / First Group / All Groups; results of "All" modes joined by newlines. An
    invalid pattern, no match or a missing group give the empty string."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("RegexExtract", "Regex Extract",
                       [_text("string"), _text("regex_pattern"), io.Combo.Input("mode", options=_EXTRACT_MODES),
                        *_flag_inputs(), io.Int.Input("group_index", default=1, min=0, max=100)],
                       [io.String.Output()])

    @classmethod
    def execute(cls, string: str, regex_pattern: str, mode: str, case_insensitive: bool = True,
                multiline: bool = False, dotall: bool = False, group_index: int = 1) -> io.NodeOutput:
        try:
            pattern = re.compile(regex_pattern, _flags(case_insensitive, multiline, dotall))
        except re.error:
            return io.NodeOutput("")
        return io.NodeOutput(_extract(string, pattern, mode, group_index))


class RegexReplace(io.ComfyNode):
    """``re.sub`` with the flags; ``count`` 0 replaces every match. An invalid pattern is an error."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("RegexReplace", "Regex Replace",
                       [_text("string"), _text("regex_pattern"), _text("replace"), *_flag_inputs(optional=True),
                        io.Int.Input("count", default=0, min=0, max=100, optional=True, tooltip=_COUNT_TOOLTIP)],
                       [io.String.Output()], description="Find and replace text using regex patterns.")

    @classmethod
    def execute(cls, string: str, regex_pattern: str, replace: str, case_insensitive: bool = True,
                multiline: bool = False, dotall: bool = False, count: int = 0) -> io.NodeOutput:
        flags = _flags(case_insensitive, multiline, dotall)
        return io.NodeOutput(re.sub(regex_pattern, replace, string, count=count, flags=flags))


NODES = [StringConcatenate, StringSubstring, StringLength, CaseConverter, StringTrim, StringReplace,
         StringContains, StringCompare, RegexMatch, RegexExtract, RegexReplace]
