"""The stable testing surface for pack authors: start a pack isolated as nodehost runs it, run a prompt, read
its outputs and errors. Also a pytest plugin (entry point ``nodehost``): the ``nodehost_pack`` fixture, the pack
the test file belongs to, started isolated.

    from host.testing import isolated_pack

    async def test_my_node() -> None:
        async with isolated_pack(PACK) as pack:
            assert pack.failures == {}
            result = await pack.run({"1": {"class_type": "MyNode", "inputs": {"x": 1}}})
            assert result.status == "success", result.error
            assert result.outputs["1"] == {"text": ["1"]}

Only the names in ``__all__`` are part of the surface; what they wrap (executor, registry, runner) may change.
Importing this module starts nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["IsolatedPack", "PromptOutcome", "isolated_pack", "find_pack_dir"]


@dataclass(frozen=True)
class PromptOutcome:
    """``status``: success | error | interrupted | invalid; ``outputs``: ui outputs per node id; ``error``: the
    ``execution_error`` data on failure (node_id, exception_message, traceback...), or for an invalid prompt the
    body POST /prompt would answer 400 with (``error``, ``node_errors``)."""

    status: str
    outputs: dict[str, Any]
    error: dict[str, Any] | None


class IsolatedPack:
    """A pack running in its own child process (in the interpreter it is tested with: its environment)."""

    def __init__(self, registry: Any, runner: Any, info: Any) -> None:
        self._registry, self._runner, self._info = registry, runner, info

    @property
    def nodes(self) -> list[str]:
        return [n.name for n in self._info.nodes]

    @property
    def failures(self) -> dict[str, str]:
        """What failed to load: ``<import>`` (the whole pack) or a node class name -> the error text."""
        return dict(self._info.failures)

    @property
    def missing_imports(self) -> list[str]:
        """ComfyUI modules the pack tried to import that nodehost does not provide."""
        return list(self._info.missing_imports)

    async def run(self, prompt: dict[str, Any], prompt_id: str = "test") -> PromptOutcome:
        from host.executor.errors import ValidationFailed
        from host.executor.events import ListSink
        from host.executor.executor import Executor

        try:
            result = await Executor(self._registry, ListSink()).run(prompt, prompt_id)
        except ValidationFailed as exc:
            return PromptOutcome("invalid", {}, exc.body())
        return PromptOutcome(result.status, dict(result.outputs), result.error)


@asynccontextmanager
async def isolated_pack(pack_dir: Path | str) -> AsyncIterator[IsolatedPack]:
    """Start the pack in ``pack_dir`` isolated (its nodes registered alone), stop it on exit."""
    from host.extensions.packs import start_pack
    from host.registry import Registry

    registry = Registry()
    runner, info = await start_pack(registry, Path(pack_dir).resolve())
    try:
        yield IsolatedPack(registry.freeze(), runner, info)
    finally:
        await runner.close()


def find_pack_dir(start: Path) -> Path:
    """The pack a test file belongs to: the nearest folder above it with an ``__init__.py``, not ``tests``."""
    for folder in [start, *start.parents]:
        if folder.is_dir() and folder.name != "tests" and (folder / "__init__.py").is_file():
            return folder
    raise LookupError(f"no pack folder (with __init__.py) above {start}")


@pytest.fixture(name="nodehost_pack")
async def nodehost_pack_fixture(request: pytest.FixtureRequest) -> AsyncIterator[IsolatedPack]:
    """The pack the test file belongs to, started isolated (needs pytest-asyncio's auto mode)."""
    async with isolated_pack(find_pack_dir(Path(str(request.path)).parent)) as pack:
        yield pack
