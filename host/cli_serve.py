"""``nodehost serve``: ComfyUI's HTTP + WebSocket API (first slice: prompts, queue, history, object_info, WS)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from builtin_nodes import OutputPaths, load_builtin
    from host.registry import Registry
    from host.runtime import freeze_startup_objects, tune_gc
    from host.server.app import ServerConfig, build_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    tune_gc()
    config = ServerConfig(listen=args.listen, port=args.port, output_dir=Path(args.output_directory).resolve(),
                          temp_dir=Path(args.temp_directory).resolve(), input_dir=Path(args.input_directory).resolve(),
                          user_dir=Path(args.user_directory).resolve(),
                          database=None if args.memory_only else Path(args.database or Path(args.user_directory) /
                                                                       "nodehost.sqlite3").resolve(),
                          requeue_running=args.requeue_running, max_history=args.max_history,
                          disable_metadata=args.disable_metadata, auth_token=args.auth_token,
                          enable_cors_header=args.enable_cors_header, max_upload_size_mb=args.max_upload_size,
                          cache_lru=args.cache_lru, cache_ram=args.cache_ram, cache_none=args.cache_none)
    config.extensions_dir = Path(args.extensions_dir).resolve()
    config.envs_dir = Path(args.envs_dir).resolve() if args.envs_dir else None
    config.find_links, config.offline = list(args.find_links), args.offline
    config.extra_model_paths = [Path(p).resolve() for p in args.extra_model_paths_config]
    config.extra["multi_user"] = args.multi_user
    config.extra["front_end_root"] = args.front_end_root
    config.extra["prewarm_packs"] = args.prewarm_packs
    config.extra["cpu"] = args.cpu
    config.extra["sandbox"] = args.sandbox
    from host.cli_ext import sandbox_error

    error = sandbox_error(args)
    if error is not None:  # never a silent fallback to running packs unsandboxed
        logging.getLogger("nodehost.server").error("%s", error)
        return 2
    registry = Registry()
    load_builtin(registry, OutputPaths(config.output_dir, config.temp_dir, metadata=not args.disable_metadata))
    freeze_startup_objects()
    if args.listen not in ("127.0.0.1", "localhost", "::1") and not args.auth_token:
        logging.getLogger("nodehost.server").warning(
            "listening on %s without --auth-token: anyone who can reach this port can run prompts; "
            "set --auth-token", args.listen)
    web.run_app(build_app(registry, config), host=args.listen, port=args.port, print=None)
    return 0


def add_serve_parser(sub: Any, add_cache_flags: Any, add_device_flags: Any) -> None:
    from host.cli_ext import add_extension_flags

    serve = sub.add_parser("serve", help="serve ComfyUI's HTTP + WebSocket API")
    serve.add_argument("--listen", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8188, help="port (default 8188)")
    serve.add_argument("--output-directory", default="output")
    serve.add_argument("--temp-directory", default="temp")
    serve.add_argument("--input-directory", default="input")
    serve.add_argument("--user-directory", default="user")
    serve.add_argument("--database", default=None,
                       help="SQLite file keeping the queue and history across restarts "
                            "(default <user-directory>/nodehost.sqlite3)")
    serve.add_argument("--auth-token", default=None, help="require 'Authorization: Bearer TOKEN' on every route "
                       "(the WebSocket may pass ?token=TOKEN)")
    serve.add_argument("--enable-cors-header", nargs="?", const="*", default=None, metavar="ORIGIN",
                       help="answer CORS (default origin *) instead of refusing cross-origin requests")
    serve.add_argument("--max-upload-size", type=float, default=100.0, help="in MB (default 100)")
    serve.add_argument("--front-end-root", default=None, help="folder of a built ComfyUI web frontend to serve at /")
    serve.add_argument("--disable-metadata", action="store_true", help="save images without prompt/workflow")
    serve.add_argument("--max-history", type=int, default=10000, help="history entries kept (default 10000)")
    serve.add_argument("--prewarm-packs", action="store_true",
                       help="start every pack's process at start-up (default: on its first use)")
    serve.add_argument("--multi-user", action="store_true", help="users from the Comfy-User header, as ComfyUI")
    serve.add_argument("--memory-only", action="store_true", help="keep queue and history in memory, as ComfyUI")
    serve.add_argument("--requeue-running", action="store_true",
                       help="after a crash, run the prompt that was running again (default: record it as failed)")
    add_cache_flags(serve)
    add_device_flags(serve)
    add_extension_flags(serve, sandbox=True)
    serve.set_defaults(func=cmd_serve)
