"""What a Ray worker is built from (pickled to every actor, and again when Ray restarts one), and the messages
that cross between the server and its workers (also pickled by Ray: plain msgspec Structs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from host.executor.events import Event
from host.executor.prompt_result import PromptResult
from host.executor.timing import NodeTiming

if TYPE_CHECKING:
    from builtin_nodes import NodeFolders, OutputPaths
    from host.registry import Registry
    from host.server.state import ServerConfig

#: builds a worker's node registry from its folders (default: the builtin nodes, :func:`builtin_registry`)
RegistryFactory = Callable[["OutputPaths", "NodeFolders"], "Registry"]


class SettingsError(ValueError):
    """``--workers ray`` settings that cannot work (no workers to start, a bad deadline)."""


class RayUnavailable(RuntimeError):
    """``--workers ray`` without Ray installed (``pip install -e '.[ray]'``)."""


def builtin_registry(paths: OutputPaths, folders: NodeFolders) -> Registry:
    """The builtin nodes, writing into the worker's folders (the node packs are added by the worker)."""
    from builtin_nodes import load_builtin
    from host.registry import Registry

    registry = Registry()
    load_builtin(registry, paths, folders)
    return registry


@dataclass
class WorkerSpec:
    """The server's settings a worker needs, field by field as ``nodehost serve`` has them."""

    output_dir: Path
    temp_dir: Path
    input_dir: Path
    #: models/ root and extra_model_paths.yaml files: the same paths must hold the models on every machine
    models_dir: Path
    extra_model_paths: list[Path] = field(default_factory=list)
    extensions_dir: Path | None = None
    envs_dir: Path | None = None
    find_links: list[str] = field(default_factory=list)
    offline: bool = False
    cache_lru: int | None = None
    cache_ram: float | None = None
    cache_none: bool = False
    disable_metadata: bool = False
    #: compute on the CPU (``--cpu``, and every CPU worker)
    cpu: bool = False
    #: the server's folders are the worker's too (a shared file system): True / False, or None = when the
    #: worker runs on the server's machine
    shared: bool | None = None
    #: the server's node address (``ray.util.get_node_ip_address()``), for ``shared=None``
    server_ip: str = ""
    registry_factory: RegistryFactory = builtin_registry

    @classmethod
    def from_config(cls, config: ServerConfig, **overrides: Any) -> WorkerSpec:
        spec = cls(output_dir=config.output_dir.resolve(), temp_dir=config.temp_dir.resolve(),
                   input_dir=config.input_dir.resolve(), models_dir=config.models_dir.resolve(),
                   extra_model_paths=list(config.extra_model_paths), extensions_dir=config.extensions_dir,
                   envs_dir=config.envs_dir, find_links=list(config.find_links), offline=config.offline,
                   cache_lru=config.cache_lru, cache_ram=config.cache_ram, cache_none=config.cache_none,
                   disable_metadata=config.disable_metadata, cpu=bool(config.extra.get("cpu")))
        for name, value in overrides.items():
            setattr(spec, name, value)
        return spec


@dataclass
class RaySettings:
    """``--workers ray`` and its flags."""

    #: as ``ray.init`` takes it: None starts a local cluster, ``auto`` joins the running one, ``ray://...``
    address: str | None = None
    #: CPU workers to start when the cluster has no GPUs (with GPUs: one worker per GPU)
    cpu_workers: int | None = None
    #: seconds a prompt may run before its worker is taken as hung, killed and restarted (None: no limit)
    prompt_deadline: float | None = None
    #: see WorkerSpec.shared
    shared: bool | None = None
    registry_factory: RegistryFactory = builtin_registry
    #: extra keywords for ``ray.init`` when the server starts Ray itself (tests: ``num_cpus``)
    init_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cpu_workers is not None and self.cpu_workers < 1:
            raise SettingsError(f"--ray-cpu-workers must be at least 1, not {self.cpu_workers}")
        if self.prompt_deadline is not None and self.prompt_deadline <= 0:
            raise SettingsError(f"--ray-prompt-deadline must be positive, not {self.prompt_deadline}")


# -- what crosses between the server and a worker -----------------------------------------------------------
class FileBlob(msgspec.Struct, frozen=True):
    """A file's bytes on their way (through the object store): which folder (``input``/``output``/``temp``),
    the path inside it, the bytes."""

    folder: str
    path: str
    data: bytes


class PromptJob(msgspec.Struct):
    """One prompt for a worker: the prompt as submitted, the outputs to run, the inputs it reads."""

    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]
    inputs: list[FileBlob] = []


class PackMessage(msgspec.Struct):
    """A pack's ``PromptServer.instance.send_sync`` (``text`` None) or ``send_progress_text`` on a worker."""

    event: str
    data: Any
    sid: str | None
    text: str | None = None


class Batch(msgspec.Struct):
    """Events in the order the executor emitted them, with the files its ``executed`` outputs name."""

    events: list[Event | PackMessage]
    files: list[FileBlob] = []
    #: the worker process that wrote the files (host.scaleout.landing: its own names restart with it)
    session: str = ""


class Finished(msgspec.Struct):
    """The last frame of a prompt's stream."""

    result: PromptResult
    timings: list[NodeTiming] = []
    files: list[FileBlob] = []
    #: the model files the worker holds now (routing)
    holds: list[str] = []
    session: str = ""


class WorkerInfo(msgspec.Struct):
    pid: int
    node_ip: str
    shared: bool
    gpus: list[str] = []


__all__ = ["Batch", "FileBlob", "Finished", "PackMessage", "PromptJob", "RaySettings", "RayUnavailable",
           "RegistryFactory", "SettingsError", "WorkerInfo", "WorkerSpec", "builtin_registry"]
