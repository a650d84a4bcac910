"""``nodehost``: the command line. ``nodehost run PROMPT.json`` executes an API-format prompt headless."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from host import cli_ext, cli_models, cli_serve
from host.cli_progress import display_for
from host.executor.errors import ValidationFailed
from host.ui_workflow import UIWorkflowError, is_ui_workflow, to_prompt


def format_validation_error(err: ValidationFailed) -> str:
    return "\n".join([f"prompt rejected: {err.error.line()}", *_node_error_lines(err.node_errors)])


def _node_error_lines(node_errors: dict[str, Any]) -> list[str]:
    lines = []
    for nid, ne in node_errors.items():
        lines.append(f"  node {nid} ({ne.class_type}):")
        lines += [f"    {e.line()}" for e in ne.errors]
    return lines


def format_skipped_outputs(node_errors: dict[str, Any]) -> str:
    """Outputs that failed validation while others run (ComfyUI runs the valid ones): said, never dropped quietly."""
    failed = sorted({o for ne in node_errors.values() for o in ne.dependent_outputs} or set(node_errors))
    return "\n".join([f"outputs not run, they failed validation: {', '.join(failed)}", *_node_error_lines(node_errors)])


async def _validate_and_run(executor: Any, prompt: Any, prompt_id: str, extra_data: dict[str, Any]) -> Any:
    validated = await executor.validate(prompt)
    if validated.node_errors:
        print(format_skipped_outputs(validated.node_errors), file=sys.stderr, flush=True)
    return await executor.execute(validated, prompt_id, extra_data)


def cmd_run(args: argparse.Namespace) -> int:
    from builtin_nodes import OutputPaths, load_builtin
    from host.executor.caches import make_cache
    from host.executor.executor import Executor
    from host.executor.worker import ExecutorThread
    from host.registry import Registry
    from host.runtime import freeze_startup_objects, tune_gc
    from isolate.shm import ShmHost, cleanup_stale

    tune_gc()
    try:
        prompt = json.loads(Path(args.prompt).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"cannot read prompt {args.prompt}: {exc}", file=sys.stderr)
        return 2
    extra_data: dict[str, Any] = {}
    if isinstance(prompt, dict) and isinstance(prompt.get("prompt"), dict):
        # a POST /prompt body: its extra_data (extra_pnginfo.workflow, which rgthree's Power Puter reads) too
        extra_data = prompt.get("extra_data") if isinstance(prompt.get("extra_data"), dict) else {}
        prompt = prompt["prompt"]
    workflow = prompt if is_ui_workflow(prompt) else None
    temp = Path(args.temp_directory) if args.temp_directory else Path(tempfile.mkdtemp(prefix="nodehost-"))
    registry = Registry()
    output = cli_models.under_base(args, args.output_directory, "output")
    paths = OutputPaths(output, temp.resolve(), metadata=not args.disable_metadata)
    models = cli_models.build_models(args, paths.output_dir, paths.temp_dir)
    load_builtin(registry, paths, models.folders)
    folders = {"base_path": str(cli_models.base_directory(args)), "output": str(paths.output_dir),
               "temp": str(paths.temp_dir), "input": str(models.folders.input_dir),
               "models_dir": str(cli_models.base_directory(args) / "models")}
    cache = make_cache(lru=args.cache_lru, ram_gb=args.cache_ram, none=args.cache_none)
    display = display_for(prompt if isinstance(prompt, dict) else {})
    executor = Executor(registry, display, cache, models=models.manager)
    cleanup_stale()  # segments left by a host that died
    error = cli_ext.sandbox_error(args)
    if error is not None:
        print(error, file=sys.stderr)
        return 2
    with ShmHost(private=args.sandbox) as shm, ExecutorThread() as worker:
        runners, statuses = worker.call(cli_ext.load(registry, args, shm, folders))  # children: the worker's loop
        cli_ext.report([s for s in statuses if s.state == "failed"], sys.stderr)
        registry.freeze()
        freeze_startup_objects()
        if workflow is not None:  # the format the web frontend saves
            try:
                prompt = to_prompt(workflow, registry.object_info())
            except UIWorkflowError as err:
                worker.call(cli_ext.close(runners))
                print(f"cannot convert the UI workflow {args.prompt}: {err}", file=sys.stderr)
                return 2
            executor.sink = display = display_for(prompt)
            extra_data = {"extra_pnginfo": {"workflow": workflow}}  # what the frontend sends with it
        try:
            result = worker.call(_validate_and_run(executor, prompt, str(uuid.uuid4()), extra_data))
        except ValidationFailed as err:
            print(format_validation_error(err), file=sys.stderr)
            return 1
        finally:
            display.close()
            worker.call(cli_ext.close(runners))
    if result.status != "success":
        err = result.error or {}
        print(f"execution {result.status} at node {err.get('node_id')} ({err.get('node_type')}): "
              f"{err.get('exception_type', '')}: {err.get('exception_message', '')}", file=sys.stderr)
        print("".join(err.get("traceback", [])), file=sys.stderr)
        return 1
    print("outputs:")
    for nid, ui in result.outputs.items():
        print(f"  {nid} ({prompt[nid]['class_type']}): {json.dumps(ui)}")
    return 0


def add_cache_flags(parser: argparse.ArgumentParser) -> None:
    """ComfyUI's cache flags; precedence as ComfyUI: --cache-lru, then --cache-ram, then --cache-none."""
    group = parser.add_argument_group("cache")
    group.add_argument("--cache-lru", type=int, default=None, metavar="N",
                       help="keep up to N node results across prompts (least recently used evicted)")
    group.add_argument("--cache-ram", type=float, nargs="?", const=4.0, default=None, metavar="GB",
                       help="keep results until free RAM drops under GB (default 4.0)")
    group.add_argument("--cache-none", action="store_true", help="keep nothing: every node runs every time")


def add_device_flags(parser: argparse.ArgumentParser) -> None:
    """ComfyUI's folder, preview, device, VRAM and dtype flags (host.cli_models, host.models.devices)."""
    cli_models.add_model_flags(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nodehost", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute an API-format prompt file")
    run.add_argument("prompt", help="API-format prompt JSON, a POST /prompt body, or a workflow saved by the web UI")
    run.add_argument("--output-directory", default=None,
                     help="where SaveImage writes (default <base-directory>/output)")
    run.add_argument("--temp-directory", default=None, help="where previews go (default: a new temp folder)")
    run.add_argument("--disable-metadata", action="store_true", help="save images without prompt/workflow")
    add_cache_flags(run)
    add_device_flags(run)
    cli_ext.add_extension_flags(run, sandbox=True)
    run.set_defaults(func=cmd_run)
    cli_ext.add_ext_parser(sub)
    cli_serve.add_serve_parser(sub, add_cache_flags, add_device_flags)
    return parser


def main(argv: list[str] | None = None) -> int:
    from isolate.compat_path import install_api

    install_api()  # comfy_api for in-process v3 code; the other compat modules exist only in pack children
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
