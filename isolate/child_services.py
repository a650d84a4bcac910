"""The child-wide services behind the ComfyUI-compatible modules (``folder_paths``, ``server``,
``comfy.model_management``, ...): one ``ChildServices`` object per extension child, created on first use.

It holds the folder configuration (from the ``NODEHOST_FOLDERS`` environment variable the host sets when it
spawns the child, else ComfyUI's defaults under the working directory), the notifier the child runtime sets
(``set_notifier(peer.notify)``) so ``PromptServer.instance.send_sync`` and friends reach the host, what the pack
registered (HTTP routes, static folders, prompt handlers: the handlers stay here, the child reports the table),
and the interrupt flag packs set through ``nodes.interrupt_processing()``.

``NODEHOST_FOLDERS`` is JSON: ``{"base_path": str, "output": str, "input": str, "temp": str, "user": str,
"models_dir": str, "folders": {name: [[paths...], [extensions...]]}}``; every key is optional (missing ones
take the defaults, a folder named in ``folders`` replaces the default entry of that name).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

ENV_VAR = "NODEHOST_FOLDERS"

#: ComfyUI's model file extensions (COMPAT_COMFYUI.md §6).
PT_EXTENSIONS = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"})

#: ComfyUI's standard model folders: name -> (sub-folders of models_dir, extensions; None = the pt set)
_STANDARD_FOLDERS: dict[str, tuple[tuple[str, ...], set[str] | None]] = {
    "checkpoints": (("checkpoints",), None),
    "configs": (("configs",), {".yaml"}),
    "loras": (("loras",), None),
    "vae": (("vae",), None),
    "text_encoders": (("text_encoders", "clip"), None),
    "diffusion_models": (("unet", "diffusion_models"), None),
    "clip_vision": (("clip_vision",), None),
    "style_models": (("style_models",), None),
    "embeddings": (("embeddings",), None),
    "diffusers": (("diffusers",), {"folder"}),
    "vae_approx": (("vae_approx",), None),
    "controlnet": (("controlnet", "t2i_adapter"), None),
    "gligen": (("gligen",), None),
    "upscale_models": (("upscale_models",), None),
    "latent_upscale_models": (("latent_upscale_models",), None),
    "hypernetworks": (("hypernetworks",), None),
    "photomaker": (("photomaker",), None),
    "classifiers": (("classifiers",), {""}),
    "model_patches": (("model_patches",), None),
    "audio_encoders": (("audio_encoders",), None),
}


@dataclass(frozen=True)
class RouteRecord:
    """An HTTP route a pack registered: the handler stays in the child, the host learns method and path."""

    method: str
    path: str
    handler_name: str
    handler: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StaticRecord:
    """A static folder a pack serves (``routes.static(prefix, path)``)."""

    prefix: str
    path: str


class ChildServices:
    """Everything the compat modules share inside one child (see the module docstring)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        cfg = config or {}
        self.base_path = os.path.abspath(cfg.get("base_path") or os.getcwd())
        self.models_dir = os.path.abspath(cfg.get("models_dir") or os.path.join(self.base_path, "models"))
        self.output_directory = os.path.abspath(cfg.get("output") or os.path.join(self.base_path, "output"))
        self.input_directory = os.path.abspath(cfg.get("input") or os.path.join(self.base_path, "input"))
        self.temp_directory = os.path.abspath(cfg.get("temp") or os.path.join(self.base_path, "temp"))
        self.user_directory = os.path.abspath(cfg.get("user") or os.path.join(self.base_path, "user"))
        #: ``folder_paths.supported_pt_extensions``: one set shared by the model folders, as in ComfyUI
        self.supported_pt_extensions: set[str] = set(PT_EXTENSIONS)
        #: ``folder_paths.folder_names_and_paths`` (the same dict): name -> ([paths], {extensions})
        self.folder_names_and_paths: dict[str, tuple[list[str], set[str]]] = self._default_folders()
        for name, entry in (cfg.get("folders") or {}).items():
            try:
                paths = [os.fspath(x) for x in entry[0]]
                exts = set(entry[1]) if len(entry) > 1 else set()
            except (TypeError, IndexError, KeyError):
                log.error("%s: folder %r must be [[paths...], [extensions...]]; ignored", ENV_VAR, name)
                continue
            # the standard set stays shared (as in ComfyUI): an extension a pack adds to it reaches every folder
            self.folder_names_and_paths[name] = (paths, self.supported_pt_extensions if exts == PT_EXTENSIONS
                                                 else exts)
        self.notifier: Callable[[str, Any], None] | None = None
        self.routes: list[RouteRecord] = []
        self.statics: list[StaticRecord] = []
        self.prompt_handlers: list[Callable[[dict[str, Any]], Any]] = []
        #: ``PromptServer.instance.client_id`` (the child runtime may set it per prompt)
        self.client_id: str | None = None
        #: the singleton ``server.PromptServer.instance``
        self.prompt_server: Any = None
        #: set by ``comfy.model_management.interrupt_current_processing`` inside the child
        self.interrupted = False
        #: the prompt it was set in (None: outside execution): a later prompt does not see it
        self.interrupted_prompt: str | None = None
        self.lock = threading.Lock()

    def ensure_standard_folders(self) -> None:
        """Create the input and output folders if missing: packs list them at import and in INPUT_TYPES
        (``os.listdir(folder_paths.get_input_directory())``, Comfyroll's ``os.listdir(get_output_directory())``),
        as ComfyUI's always exist (its checkout ships both; temp is made when something is saved). One that
        cannot be created (a sandbox without it) is left to the pack."""
        for folder in (self.input_directory, self.output_directory):
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:
                log.debug("could not create %s: %s", folder, exc)

    def _default_folders(self) -> dict[str, tuple[list[str], set[str]]]:
        folders: dict[str, tuple[list[str], set[str]]] = {}
        for name, (subdirs, exts) in _STANDARD_FOLDERS.items():
            folders[name] = ([os.path.join(self.models_dir, d) for d in subdirs],
                             self.supported_pt_extensions if exts is None else set(exts))
        folders["custom_nodes"] = ([os.path.join(self.base_path, "custom_nodes")], set())
        return folders

    # -- messages to the host ------------------------------------------------------------------------
    def notify(self, method: str, params: Any) -> None:
        """Send a notification to the host; dropped (debug log) outside a child or when it cannot be sent."""
        notifier = self.notifier
        if notifier is None:
            log.debug("no host to notify: %s dropped", method)
            return
        try:
            notifier(method, params)
        except Exception:  # a UI message must never fail the node that sent it
            log.warning("could not send %r to the host", method, exc_info=True)

    # -- what the pack registered --------------------------------------------------------------------
    def record_route(self, method: str, path: str, handler: Any) -> None:
        name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None) or repr(handler)
        record = RouteRecord(method.upper(), path, f"{getattr(handler, '__module__', '?')}.{name}", handler)
        with self.lock:
            if not any(r == record and r.handler is handler for r in self.routes):
                self.routes.append(record)

    def record_static(self, prefix: str, path: Any) -> None:
        record = StaticRecord(prefix, os.fspath(path))
        with self.lock:
            if record not in self.statics:
                self.statics.append(record)

    def route_table(self) -> dict[str, list[dict[str, str]]]:
        """The routes as plain data for the host: ``{"routes": [{method, path, handler}], "static": [...]}``."""
        return {"routes": [{"method": r.method, "path": r.path, "handler": r.handler_name} for r in self.routes],
                "static": [{"prefix": s.prefix, "path": s.path} for s in self.statics]}

    def find_route(self, method: str, path: str) -> RouteRecord | None:
        for record in self.routes:
            if record.path == path and record.method in (method.upper(), "*"):
                return record
        return None

    def folders_config(self) -> dict[str, Any]:
        """The folder configuration now (pack registrations included), in ``NODEHOST_FOLDERS`` form."""
        return {"base_path": self.base_path, "models_dir": self.models_dir, "output": self.output_directory,
                "input": self.input_directory, "temp": self.temp_directory, "user": self.user_directory,
                "folders": {name: [list(paths), sorted(exts)]
                            for name, (paths, exts) in self.folder_names_and_paths.items()}}


_services: ChildServices | None = None
_create_lock = threading.Lock()


def load_config() -> dict[str, Any]:
    """The folder configuration from ``NODEHOST_FOLDERS`` ({} when unset; a bad value is logged and ignored)."""
    raw = os.environ.get(ENV_VAR)
    if not raw:
        return {}
    try:
        cfg = json.loads(raw)
    except ValueError:
        log.error("%s is not valid JSON; using the default folders", ENV_VAR)
        return {}
    if not isinstance(cfg, dict):
        log.error("%s must be a JSON object; using the default folders", ENV_VAR)
        return {}
    return cfg


def services() -> ChildServices:
    """The child's services, created on first use from the environment."""
    global _services
    if _services is None:
        with _create_lock:
            if _services is None:
                _services = ChildServices(load_config())
    return _services


def set_notifier(fn: Callable[[str, Any], None] | None) -> None:
    """Where host notifications go (the child runtime passes its peer's ``notify``)."""
    services().notifier = fn


def reset() -> None:
    """Forget the services object (tests); the next ``services()`` reads the environment again."""
    global _services
    _services = None
