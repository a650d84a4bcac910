"""The extension child: ``python -I -m isolate.child PACK_DIR NAME`` inside the pack's environment.

Takes fd 1 for the protocol before anything else is imported, puts the compat modules (comfy_api, ...) on
sys.path, imports the pack (v1 ``NODE_CLASS_MAPPINGS`` or v3 ``comfy_entrypoint``), reads its node definitions
here, and serves the runner protocol over JSON-RPC with an in-process LocalRunner. SIGUSR1 from the host
interrupts the running node at its next progress update.
"""

from isolate.rpc.stdio import die_with_parent, take_stdout  # noqa: I001  (must run before anything else)

if __name__ == "__main__":
    die_with_parent()
PROTO_FD = take_stdout() if __name__ == "__main__" else -1

import asyncio  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from isolate import protocol as p  # noqa: E402
from isolate.calls import NodeCall  # noqa: E402
from isolate.codec import Codec  # noqa: E402
from isolate.context import CURRENT_NODE, InterruptProcessingException, NodeContext  # noqa: E402
from isolate.dynprompt import DynPromptData  # noqa: E402
from isolate.local_runner import LocalRunner  # noqa: E402
from isolate.nodedef import NodeDef  # noqa: E402
from isolate.paths import CURRENT_PATHS, OutputPaths  # noqa: E402
from isolate.rpc.peer import Peer  # noqa: E402

PRESTARTUP = "prestartup_script.py"


def run_prestartup(pack_dir: Path, name: str) -> None:
    """ComfyUI runs a pack's ``prestartup_script.py`` before loading any node (packs register model folders and
    patch paths there): here it runs in the pack's own process, before its ``__init__``."""
    import importlib.util

    if str(pack_dir.parent) not in sys.path:
        sys.path.insert(0, str(pack_dir.parent))
    script = pack_dir / PRESTARTUP
    spec = importlib.util.spec_from_file_location(f"{pack_dir.name}_prestartup", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


async def load_pack(pack_dir: Path, name: str) -> tuple[dict[str, type], dict[str, str], str | None]:
    """Import the pack as ComfyUI does (a module named after its folder) and collect its node classes."""
    if str(pack_dir.parent) not in sys.path:
        sys.path.insert(0, str(pack_dir.parent))
    module = importlib.import_module(pack_dir.name)
    web = getattr(module, "WEB_DIRECTORY", None)
    mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
    if mappings is not None:
        return dict(mappings), dict(getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", {}) or {}), web
    entry = getattr(module, "comfy_entrypoint", None)
    if entry is None:
        raise ImportError(f"pack {name!r} has neither NODE_CLASS_MAPPINGS nor comfy_entrypoint")
    ext = entry()
    ext = await ext if inspect.isawaitable(ext) else ext
    await ext.on_load()
    nodes = await ext.get_node_list()
    return {cls.define_schema().node_id: cls for cls in nodes}, {}, web


class ChildProgress:
    """The progress hook inside a child: a notification to the host (no round trip), and the interrupt flag
    SIGUSR1 sets."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.interrupted = False

    def progress(self, node_id: str, value: float, max_value: float | None, preview: Any = None,
                 legacy: bool = True) -> None:
        if self.interrupted:
            raise InterruptProcessingException()
        ctx = CURRENT_NODE.get()
        prompt_id = ctx.prompt_id if ctx is not None else ""
        self.peer.notify("progress", p.ProgressParams(prompt_id, node_id, value, max_value, legacy,
                                                      encode_preview(preview)))


def encode_preview(preview: Any) -> list[Any] | None:
    """A ``(format, PIL.Image, max_size)`` preview as ``[format, base64 of the encoded image, max_size]``."""
    if not (isinstance(preview, tuple) and len(preview) == 3 and hasattr(preview[1], "save")):
        return None
    import base64

    from isolate.previews import encode_image

    fmt, image, max_size = preview
    _, _, data = encode_image(fmt, image)
    return [str(fmt).upper(), base64.b64encode(data).decode(), max_size]


class ChildServer:
    def __init__(self, name: str, pack_dir: Path, peer: Peer, codec: Codec) -> None:
        self.name, self.pack_dir, self.peer, self.codec = name, pack_dir, peer, codec
        self.runner = LocalRunner()
        self.info = p.PackInfo(name=name, nodes=[])
        self.hook = ChildProgress(peer)
        #: done once the pack is loaded (list_nodes waits for it: the host may ask while the pack imports)
        self.loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        from isolate.shm import ShmClient

        self.shm = ShmClient()

    async def load(self) -> None:
        from isolate import patch_watch
        from isolate.child_services import services
        from isolate.import_watch import watching
        from isolate.v1 import nodedef_from_v1
        from isolate.v3 import nodedef_from_v3

        services().ensure_standard_folders()
        before = patch_watch.snapshot()
        with watching() as missed:
            if (self.pack_dir / PRESTARTUP).is_file():
                try:
                    run_prestartup(self.pack_dir, self.name)
                except Exception as exc:  # ComfyUI reports it and loads the pack anyway
                    self.info.failures["<prestartup>"] = "".join(traceback.format_exception(exc))
            try:
                classes, display, web = await load_pack(self.pack_dir, self.name)
            except Exception as exc:
                report = missed.report()
                self.info.failures["<import>"] = "".join(traceback.format_exception(exc)) + (
                    f"while importing, the pack\n{report}\n" if report else "")
                self.info.missing_imports = missed.relevant()
                return
        self.info.missing_imports = missed.relevant()
        self.info.warnings = patch_watch.warnings_for(self.name, patch_watch.replaced(before))
        self.info.web_directory = web
        module = f"custom_nodes.{self.pack_dir.name}"
        for node_name, cls in classes.items():
            try:
                nd: NodeDef = (nodedef_from_v3(cls, origin=self.name, python_module=module)
                               if hasattr(cls, "define_schema") else
                               nodedef_from_v1(node_name, cls, display.get(node_name), module, self.name))
            except Exception as exc:
                self.info.failures[node_name] = f"{type(exc).__name__}: {exc}"
                continue
            self.runner.add(nd, cls)
            self.info.nodes.append(nd)

    async def list_nodes(self, _: Any = None) -> p.PackInfo:
        from isolate.child_services import services

        await asyncio.shield(self.loaded)
        self.info.routes = [{"method": r["method"], "path": r["path"]} for r in services().route_table()["routes"]]
        return self.info

    def register(self) -> None:
        peer = self.peer
        peer.register("http", self.http, p.HttpRequest)
        peer.register("list_nodes", self.list_nodes)
        peer.register("validate", self.validate, p.ClassCall)
        peer.register("fingerprint", self.fingerprint, p.ClassCall)
        peer.register("check_lazy", self.check_lazy, p.WireCall)
        peer.register("execute", self.execute, p.WireCall)
        peer.register("drop", lambda d: self.runner.drop(d.keys), p.DropParams)
        peer.register("callback", self.callback)

    def callback(self, params: Any) -> Any:
        """The host calls a function the pack put in a MODEL's model_options while it samples
        (isolate/model_patches.py); the arguments' views are given back as soon as it returns."""
        from isolate.model_patches import serve_callback

        out = serve_callback(params)
        self.flush_releases()
        return out

    async def http(self, req: p.HttpRequest) -> p.HttpResponse:
        """Serve one of the pack's own routes with a real aiohttp request built here."""
        import base64

        from aiohttp import streams, test_utils, web
        from aiohttp.web_urldispatcher import DynamicResource

        from isolate.child_services import services

        record = services().find_route(req.method, req.route)
        if record is None:
            return p.HttpResponse(404)
        body = base64.b64decode(req.body)
        payload = streams.StreamReader(_NoProtocol(), 2**16, loop=asyncio.get_running_loop())
        payload.feed_data(body)
        payload.feed_eof()
        url = req.path + (f"?{req.query_string}" if req.query_string else "")
        match = DynamicResource(req.route)._match(req.path) or {}
        request = test_utils.make_mocked_request(req.method, url, headers=req.headers, payload=payload,
                                                 match_info=match)
        response = await record.handler(request)
        if not isinstance(response, web.Response):
            return p.HttpResponse(500, body=base64.b64encode(b"pack handler returned a streaming response").decode())
        return p.HttpResponse(response.status, {k: v for k, v in response.headers.items()
                                                if k.lower() not in ("content-length", "transfer-encoding")},
                              base64.b64encode(response.body or b"").decode())

    def validate(self, call: p.ClassCall) -> Any:
        return self.runner.validate(call.class_type, self.codec.decode(call.kwargs))

    def fingerprint(self, call: p.ClassCall) -> Any:
        return _finish(self.runner.fingerprint(call.class_type, self.codec.decode(call.kwargs)), self.codec.encode)

    def node_call(self, call: p.WireCall) -> NodeCall:
        hidden = self.codec.decode(call.hidden) if call.hidden else {}
        if isinstance(hidden.get("DYNPROMPT"), dict):
            import msgspec

            hidden["DYNPROMPT"] = msgspec.convert(hidden["DYNPROMPT"], DynPromptData)
        return NodeCall(call.prompt_id, call.node_id, call.class_type, call.index, self.codec.decode(call.inputs),
                        hidden)

    def check_lazy(self, call: p.WireCall) -> Any:
        return self.in_context(call, lambda c: self.runner.check_lazy(c), lambda names: list(names or []))

    def execute(self, call: p.WireCall) -> Any:
        return self.in_context(call, self.runner.execute, self.encode_result)

    def encode_result(self, result: Any) -> Any:
        """Outputs are carved from host-granted slabs; when none has room, ask the host for one and retry."""
        from isolate.shm import SlabExhausted

        try:
            return p.WireResult(self.codec.encode(list(result.values)), self.codec.encode(result.ui),
                                self.codec.encode(result.expand))
        except SlabExhausted as full:
            return self._with_grant(result, full.needed)

    async def _with_grant(self, result: Any, needed: int) -> Any:
        from isolate.shm import SlabGrant

        grant = await self.peer.call("grant_slab", p.GrantParams(needed), result_type=SlabGrant)
        self.shm.add_grant(grant)
        return self.encode_result(result)

    def flush_releases(self) -> None:
        """Tell the host which received handles this child no longer views (after each call)."""
        items = self.shm.take_released()
        if items:
            self.peer.notify("release", p.ReleaseParams(items))

    def in_context(self, call: p.WireCall, body: Any, convert: Any) -> Any:
        asyncio.get_running_loop().call_soon(self.flush_releases)
        node_call = self.node_call(call)
        self.hook.interrupted = False
        token = CURRENT_NODE.set(NodeContext(call.prompt_id, call.node_id, call.index, self.hook))
        paths = CURRENT_PATHS.set(self.output_paths())  # where v3 ui.PreviewImage / PreviewAudio write
        try:
            out = body(node_call)
            if inspect.isawaitable(out):
                return _finish(asyncio.ensure_future(out), convert)  # the task keeps this context
        finally:
            CURRENT_PATHS.reset(paths)
            CURRENT_NODE.reset(token)
        return convert(out)

    def output_paths(self) -> OutputPaths:
        """The host's output and temp folders (as ``folder_paths`` has them) and its metadata switch."""
        from isolate.child_services import services
        from isolate.save_nodes import metadata_enabled

        svc = services()
        return OutputPaths(Path(svc.output_directory), Path(svc.temp_directory), metadata=metadata_enabled())


class _NoProtocol:
    """The minimum a StreamReader needs from a protocol when it is fed in memory."""

    _reading_paused = False

    def pause_reading(self, *args: Any, **kwargs: Any) -> None:
        return None

    def resume_reading(self, *args: Any, **kwargs: Any) -> None:
        return None


def _handle(data: Any) -> Any:
    import msgspec

    from isolate.shm import TensorHandle

    return msgspec.convert(data, TensorHandle)


async def _finish(out: Any, convert: Any) -> Any:
    return convert(await out) if inspect.isawaitable(out) else convert(out)


def connect_host(server: ChildServer) -> None:
    """Pack code reaches the host from here on (isolate/host_link.py): model proxies, core nodes."""
    from isolate import host_link
    from isolate.proxies import wrap_host_object
    from isolate.shm import SlabGrant

    link = host_link.HostLink(server.peer)

    def grant(needed: int) -> None:
        server.shm.add_grant(link.call("grant_slab", p.GrantParams(needed), result_type=SlabGrant))

    server.codec = Codec(owner=server.name, export=server.shm.export, open=lambda h: server.shm.open(_handle(h)),
                         wrap=wrap_host_object)
    link.codec, link.grant = server.codec, grant
    host_link.set_link(link)


async def main(pack_dir: Path, name: str) -> None:
    from isolate.compat_path import install
    from isolate.rpc.transport import attach_stdio

    install()
    from isolate import standins

    standins.install()  # ComfyUI internals nodehost lacks import as stand-ins (used: a clear error)
    peer = Peer(name)
    from isolate.child_services import set_notifier

    set_notifier(peer.notify)  # PromptServer.instance.send_sync & co. become notifications to the host
    server = ChildServer(name, pack_dir, peer, Codec(owner=name))
    signal.signal(signal.SIGUSR1, lambda *_: setattr(server.hook, "interrupted", True))
    server.register()
    await attach_stdio(peer, PROTO_FD)  # connected before the pack imports: it may need the host already
    connect_host(server)
    try:
        await server.load()
    finally:
        server.loaded.set_result(None)
    assert peer.closed is not None
    await peer.closed


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]).resolve(), sys.argv[2]))
