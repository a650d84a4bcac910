"""The README stays true: every nodehost command it shows parses, every file it names exists, and the example
prompts it uses validate against the builtin nodes (or name the example packs' nodes)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from host.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def shown_commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.split("#")[0].strip().rstrip("&").strip()
                if part.startswith("nodehost "):
                    commands.append(shlex.split(part)[1:])
    return commands


def test_the_readme_shows_commands() -> None:
    assert any(c[0] == "run" for c in shown_commands()) and any(c[0] == "serve" for c in shown_commands())


@pytest.mark.parametrize("argv", shown_commands(), ids=lambda a: " ".join(a))
def test_every_shown_command_parses(argv: list[str]) -> None:
    build_parser().parse_args(argv)


def test_named_files_exist() -> None:
    for name in set(re.findall(r"(?<![/\w.])((?:examples|docs|bench|host)/[\w./-]+\.(?:json|md|py))", README)):
        assert (ROOT / name).exists(), name


async def test_example_prompt_validates(registry) -> None:
    from host.executor.validation import validate_prompt

    prompt = json.loads((ROOT / "examples" / "invert.json").read_text())
    assert (await validate_prompt(prompt, registry)).outputs == ["3", "4"]
