"""``nodehost serve``: ComfyUI's HTTP + WebSocket API (first slice: prompts, queue, history, object_info, WS)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from builtin_nodes import OutputPaths, load_builtin
    from host import cli_models
    from host.cli_flags import log_without_effect
    from host.registry import Registry
    from host.runtime import freeze_startup_objects, tune_gc
    from host.server.app import ServerConfig, build_app
    from host.server.frontend import FrontendNotFound, default_web_root

    logging.basicConfig(level=getattr(logging, args.verbose), format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stdout if args.log_stdout else sys.stderr)
    log_without_effect(args.serve_parser, args)
    apply_base_directory(args)
    try:
        front_end_root = args.front_end_root or default_web_root(args.front_end_version)
    except FrontendNotFound as exc:
        print(exc, file=sys.stderr)
        return 2
    tune_gc()
    base = cli_models.base_directory(args)
    user_dir = cli_models.under_base(args, args.user_directory, "user")
    config = ServerConfig(listen=args.listen, port=args.port,
                          output_dir=cli_models.under_base(args, args.output_directory, "output"),
                          temp_dir=cli_models.under_base(args, args.temp_directory, "temp"),
                          input_dir=cli_models.under_base(args, args.input_directory, "input"),
                          user_dir=user_dir, models_dir=base / "models",
                          database=None if args.memory_only else Path(args.database or user_dir /
                                                                       "nodehost.sqlite3").resolve(),
                          requeue_running=args.requeue_running, max_history=args.max_history,
                          disable_metadata=args.disable_metadata, auth_token=args.auth_token,
                          enable_cors_header=args.enable_cors_header, max_upload_size_mb=args.max_upload_size,
                          cache_lru=args.cache_lru, cache_ram=args.cache_ram, cache_none=args.cache_none)
    config.extensions_dir = None if args.disable_all_custom_nodes else Path(args.extensions_dir).resolve()
    config.envs_dir = Path(args.envs_dir).resolve() if args.envs_dir else None
    config.find_links, config.offline = list(args.find_links), args.offline
    config.extra_model_paths = cli_models.extra_model_paths(args)
    config.extra["multi_user"] = args.multi_user
    config.extra["front_end_root"] = str(front_end_root) if front_end_root else None
    config.extra["prewarm_packs"] = args.prewarm_packs
    config.extra["cpu"] = args.cpu
    config.extra["sandbox"] = args.sandbox
    from host.cli_ext import sandbox_error

    error = sandbox_error(args)
    if error is not None:  # never a silent fallback to running packs unsandboxed
        logging.getLogger("nodehost.server").error("%s", error)
        return 2
    registry = Registry()
    models = cli_models.build_models(args, config.output_dir, config.temp_dir)
    load_builtin(registry, OutputPaths(config.output_dir, config.temp_dir, metadata=not args.disable_metadata),
                 models.folders)
    freeze_startup_objects()
    if any(h not in ("127.0.0.1", "localhost", "::1") for h in listen_hosts(args.listen)) and not args.auth_token:
        logging.getLogger("nodehost.server").warning(
            "listening on %s without --auth-token: anyone who can reach this port can run prompts; "
            "set --auth-token", args.listen)
    try:
        workers = worker_pool(args)
    except (RuntimeError, ValueError) as exc:  # RayUnavailable, SettingsError: never a silent fallback
        logging.getLogger("nodehost.server").error("%s", exc)
        print(f"nodehost serve: {exc}", file=sys.stderr)
        return 2
    app = build_app(registry, config, models=models.manager, workers=workers)
    if args.watch_packs:  # an edited pack is reloaded under the running server
        from host.server.pack_watch import install

        install(app)
    if args.quick_test_for_ci:  # as ComfyUI: start up, then exit
        return 0
    if workers is not None:
        try:
            workers.connect()
        except Exception as exc:  # ray's own errors (ConnectionError, RuntimeError, ...) when it cannot join
            print(f"nodehost serve: cannot start or join the Ray cluster ({args.ray_address or 'local'}): {exc}",
                  file=sys.stderr)
            return 2
    hosts = listen_hosts(args.listen)
    web.run_app(app, host=hosts if len(hosts) > 1 else hosts[0], port=args.port, print=None, shutdown_timeout=5)
    return 0


def worker_pool(args: argparse.Namespace) -> Any:
    """``--workers``: None (the in-process executor) or a Ray pool (host.scaleout; Ray must be installed)."""
    if args.workers == "ray" and args.watch_packs:
        raise ValueError("--watch-packs needs --workers local (each Ray worker loads its own packs)")
    if args.workers != "ray":
        for flag in ("ray_address", "ray_cpu_workers", "ray_prompt_deadline"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} needs --workers ray")
        return None
    from host.scaleout.pool import RayWorkers
    from host.scaleout.spec import RaySettings

    shared = {"auto": None, "yes": True, "no": False}[args.ray_shared_folders]
    return RayWorkers(RaySettings(address=args.ray_address, cpu_workers=args.ray_cpu_workers,
                                  prompt_deadline=args.ray_prompt_deadline, shared=shared))


def add_worker_flags(serve: Any) -> None:
    group = serve.add_argument_group("scale-out (Ray)")
    group.add_argument("--workers", choices=["local", "ray"], default="local",
                       help="where prompts run: in this process (default) or on Ray actors, one per GPU "
                            "(needs pip install -e '.[ray]')")
    group.add_argument("--ray-address", default=None, metavar="ADDRESS",
                       help="the Ray cluster, as ray.init takes it (auto: the running one; default: start a local one)")
    group.add_argument("--ray-cpu-workers", type=int, default=None, metavar="N",
                       help="on a cluster without GPUs, start N CPU workers (default 1)")
    group.add_argument("--ray-prompt-deadline", type=float, default=None, metavar="SECONDS",
                       help="a prompt running longer has its worker killed and restarted (default: no limit)")
    group.add_argument("--ray-shared-folders", choices=["auto", "yes", "no"], default="auto",
                       help="whether workers see the server's input/output folders (auto: those on this machine "
                            "do); otherwise files cross through Ray's object store")


def apply_base_directory(args: argparse.Namespace) -> None:
    """``--base-directory``: custom_nodes defaults under it (the other folders: host/cli_models.py)."""
    if args.base_directory and args.extensions_dir == "extensions":
        args.extensions_dir = str(Path(args.base_directory) / "custom_nodes")


def auth_token(value: str) -> str:
    """``--auth-token ""`` is refused, never read as "no auth"."""
    if not value.strip():
        raise argparse.ArgumentTypeError("the token is empty: give a token, or leave --auth-token out")
    return value


def listen_hosts(value: str) -> list[str]:
    """``--listen`` as ComfyUI takes it: one address or a comma-separated list."""
    return [h.strip() for h in value.split(",") if h.strip()]


def add_serve_parser(sub: Any, add_cache_flags: Any, add_device_flags: Any) -> None:
    from host.cli_ext import add_extension_flags

    serve = sub.add_parser("serve", help="serve ComfyUI's HTTP + WebSocket API")
    serve.add_argument("--listen", default="127.0.0.1", nargs="?", const="0.0.0.0,::", metavar="IP",
                       help="address(es) to listen on, comma-separated (default 127.0.0.1; with no value 0.0.0.0,::)")
    serve.add_argument("--port", type=int, default=8188, help="port (default 8188)")
    serve.add_argument("--output-directory", default=None, help="default <base-directory>/output")
    serve.add_argument("--temp-directory", default=None, help="default <base-directory>/temp")
    serve.add_argument("--user-directory", default=None, help="default <base-directory>/user")
    serve.add_argument("--database", default=None,
                       help="SQLite file keeping the queue and history across restarts "
                            "(default <user-directory>/nodehost.sqlite3)")
    serve.add_argument("--auth-token", default=None, type=auth_token,
                       help="require 'Authorization: Bearer TOKEN' on every route (only the WebSocket may pass "
                            "?token=TOKEN)")
    serve.add_argument("--enable-cors-header", nargs="?", const="*", default=None, metavar="ORIGIN",
                       help="answer CORS (default origin *) instead of refusing cross-origin requests")
    serve.add_argument("--max-upload-size", type=float, default=100.0, help="in MB (default 100)")
    serve.add_argument("--front-end-root", default=None, help="folder of a built ComfyUI web frontend to serve at / "
                       "(default: the installed comfyui-frontend-package)")
    serve.add_argument("--front-end-version", default=None, metavar="OWNER/REPO@VERSION",
                       help="nothing is downloaded: must name the installed comfyui-frontend-package's version")
    serve.add_argument("--verbose", nargs="?", const="DEBUG", default="INFO",
                       choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="log level")
    serve.add_argument("--log-stdout", action="store_true", help="log to stdout instead of stderr")
    serve.add_argument("--disable-all-custom-nodes", action="store_true", help="load no node packs")
    serve.add_argument("--dont-print-server", action="store_true", help="nodehost prints no server banner anyway")
    serve.add_argument("--quick-test-for-ci", action="store_true", help="start up, then exit (as ComfyUI)")
    serve.add_argument("--disable-metadata", action="store_true", help="save images without prompt/workflow")
    serve.add_argument("--max-history", type=int, default=10000, help="history entries kept (default 10000)")
    serve.add_argument("--prewarm-packs", action="store_true",
                       help="start every pack's process at start-up (default: on its first use)")
    serve.add_argument("--watch-packs", action="store_true",
                       help="reload a node pack whose files change (its process restarts between prompts) and "
                            "tell the page to refresh its node definitions")
    serve.add_argument("--multi-user", action="store_true", help="users from the Comfy-User header, as ComfyUI")
    serve.add_argument("--memory-only", action="store_true", help="keep queue and history in memory, as ComfyUI")
    serve.add_argument("--requeue-running", action="store_true",
                       help="after a crash, run the prompt that was running again (default: record it as failed)")
    add_worker_flags(serve)
    add_cache_flags(serve)
    add_device_flags(serve)
    add_extension_flags(serve, sandbox=True)
    from host.cli_flags import add_comfy_flags

    add_comfy_flags(serve)  # last: what nodehost defines above wins
    serve.set_defaults(func=cmd_serve, serve_parser=serve)
