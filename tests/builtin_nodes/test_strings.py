"""String nodes (comfy_extras.nodes_string): each mode and flag, and a chain run through the executor."""

from __future__ import annotations

import re

import pytest

from builtin_nodes.strings import (
    CaseConverter,
    RegexExtract,
    RegexMatch,
    RegexReplace,
    StringCompare,
    StringConcatenate,
    StringContains,
    StringLength,
    StringReplace,
    StringSubstring,
    StringTrim,
)
from host.executor.events import ListSink
from host.executor.executor import Executor


def value(node: type, **kwargs: object) -> object:
    [out] = node.execute(**kwargs).values
    return out


def test_concatenate_length_replace() -> None:
    assert value(StringConcatenate, string_a="foo", string_b="bar", delimiter=", ") == "foo, bar"
    assert value(StringConcatenate, string_a="foo", string_b="bar", delimiter="") == "foobar"
    assert value(StringLength, string="héllo\n") == 6
    assert value(StringReplace, string="a-b-c", find="-", replace="+") == "a+b+c"


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, 5, "Hello"), (7, 12, "world"), (-6, -1, "world"), (3, 100, "lo, world!"), (5, 2, ""), (0, 0, "")])
def test_substring_is_a_python_slice(start: int, end: int, expected: str) -> None:
    assert value(StringSubstring, string="Hello, world!", start=start, end=end) == expected


@pytest.mark.parametrize(("mode", "expected"), [
    ("UPPERCASE", "HELLO WORLD-X"), ("lowercase", "hello world-x"), ("Capitalize", "Hello world-x"),
    ("Title Case", "Hello World-X")])
def test_case_converter(mode: str, expected: str) -> None:
    assert value(CaseConverter, string="hELLo wORLD-x", mode=mode) == expected


@pytest.mark.parametrize(("mode", "expected"), [("Both", "x  y"), ("Left", "x  y \n"), ("Right", "\t x  y")])
def test_trim(mode: str, expected: str) -> None:
    assert value(StringTrim, string="\t x  y \n", mode=mode) == expected


def test_contains_case_sensitivity() -> None:
    assert value(StringContains, string="Hello World", substring="world", case_sensitive=True) is False
    assert value(StringContains, string="Hello World", substring="world", case_sensitive=False) is True
    assert value(StringContains, string="Hello World", substring="", case_sensitive=True) is True


@pytest.mark.parametrize(("a", "b", "mode", "case_sensitive", "expected"), [
    ("Hello World", "Hello", "Starts With", True, True),
    ("Hello World", "hello", "Starts With", True, False),
    ("Hello World", "hello", "Starts With", False, True),
    ("Hello World", "WORLD", "Ends With", False, True),
    ("Hello World", "World", "Ends With", True, True),
    ("Hello World", "Hello", "Ends With", True, False),
    ("abc", "ABC", "Equal", True, False),
    ("abc", "ABC", "Equal", False, True),
])
def test_compare(a: str, b: str, mode: str, case_sensitive: bool, expected: bool) -> None:
    assert value(StringCompare, string_a=a, string_b=b, mode=mode, case_sensitive=case_sensitive) is expected


def test_regex_match_flags_and_invalid_pattern() -> None:
    def match(pattern: str, string: str, **flags: bool) -> object:
        args = {"case_insensitive": False, "multiline": False, "dotall": False} | flags
        return value(RegexMatch, string=string, regex_pattern=pattern, **args)

    assert match("hello", "say HELLO") is False
    assert match("hello", "say HELLO", case_insensitive=True) is True
    assert match("^two$", "one\ntwo\nthree") is False
    assert match("^two$", "one\ntwo\nthree", multiline=True) is True
    assert match("one.two", "one\ntwo") is False
    assert match("one.two", "one\ntwo", dotall=True) is True
    assert match("(unclosed", "(unclosed") is False  # an invalid pattern is no match, not an error
    assert RegexMatch.execute(string="ABC", regex_pattern="abc").values == (True,)  # case-insensitive default


TEXT = "id=7 name=Ann\nid=42 name=Bob\nID=9 name=Cy"


def extract(pattern: str, mode: str, group_index: int = 1, **flags: bool) -> object:
    args = {"case_insensitive": False, "multiline": False, "dotall": False} | flags
    return value(RegexExtract, string=TEXT, regex_pattern=pattern, mode=mode, group_index=group_index, **args)


def test_regex_extract_modes() -> None:
    assert extract(r"id=\d+", "First Match") == "id=7"
    assert extract(r"id=\d+", "All Matches") == "id=7\nid=42"
    assert extract(r"id=\d+", "All Matches", case_insensitive=True) == "id=7\nid=42\nID=9"
    # with groups, All Matches gives each match's first group (as re.findall does)
    assert extract(r"id=(\d+) name=(\w+)", "All Matches") == "7\n42"
    assert extract(r"id=(\d+) name=(\w+)", "First Group") == "7"
    assert extract(r"id=(\d+) name=(\w+)", "First Group", group_index=2) == "Ann"
    assert extract(r"id=(\d+) name=(\w+)", "First Group", group_index=0) == "id=7 name=Ann"
    assert extract(r"id=(\d+) name=(\w+)", "All Groups", group_index=2) == "Ann\nBob"
    assert extract(r"id=(\d+) name=(\w+)", "All Groups", group_index=2, case_insensitive=True) == "Ann\nBob\nCy"


def test_regex_extract_misses_give_empty_string() -> None:
    assert extract(r"zzz", "First Match") == ""
    assert extract(r"zzz", "All Matches") == ""
    assert extract(r"id=(\d+)", "First Group", group_index=3) == ""  # no such group
    assert extract(r"id=\d+", "All Groups") == ""  # no groups at all
    assert extract(r"id=(\d+)|(x)", "First Group", group_index=2) == ""  # group did not take part
    assert extract(r"(unclosed", "First Match") == ""


def test_regex_extract_multiline_and_dotall() -> None:
    assert extract(r"^id=\d+$", "All Matches") == ""
    assert extract(r"name=\w+$", "All Matches") == "name=Cy"
    assert extract(r"name=\w+$", "All Matches", multiline=True) == "name=Ann\nname=Bob\nname=Cy"
    assert extract(r"Ann.id", "First Match") == ""
    assert extract(r"Ann.id", "First Match", dotall=True) == "Ann\nid"


def test_regex_replace_flags_count_and_backrefs() -> None:
    def replace(pattern: str, repl: str, string: str, **kwargs: object) -> object:
        return value(RegexReplace, string=string, regex_pattern=pattern, replace=repl, **kwargs)

    assert replace("a", "_", "aAaA") == "____"  # optional flags default: case-insensitive, replace all
    assert replace("a", "_", "aAaA", case_insensitive=False) == "_A_A"
    assert replace("a", "_", "aAaA", count=3) == "___A"
    assert replace(r"(\w+)@(\w+)", r"\2 at \1", "me@home") == "home at me"
    assert replace("^x", "-", "x\nx", multiline=True) == "-\n-"
    assert replace("a.b", "-", "a\nb", dotall=True) == "-"
    with pytest.raises(re.error):
        replace("(", "", "x")


async def test_string_chain_through_the_executor(registry) -> None:
    prompt = {
        "1": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "  Some Text\n"}},
        "2": {"class_type": "StringTrim", "inputs": {"string": ["1", 0], "mode": "Both"}},
        "3": {"class_type": "CaseConverter", "inputs": {"string": ["2", 0], "mode": "UPPERCASE"}},
        "4": {"class_type": "StringConcatenate", "inputs": {"string_a": ["3", 0], "string_b": "!",
                                                           "delimiter": ""}},
        "5": {"class_type": "StringLength", "inputs": {"string": ["4", 0]}},
        "6": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}},
        "7": {"class_type": "PreviewAny", "inputs": {"source": ["5", 0]}},
    }
    result = await Executor(registry, ListSink()).run(prompt, "p")
    assert result.status == "success", result.error
    assert result.outputs["6"] == {"text": ["SOME TEXT!"]}
    assert result.outputs["7"] == {"text": ["10"]}
