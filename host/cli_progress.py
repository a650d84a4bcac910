"""What ``nodehost run`` shows while a prompt runs: on a terminal one bar over the prompt's nodes and one per
node that reports steps (a sampler's steps, an upscale's tiles), drawn with tqdm on stderr; elsewhere plain
lines on stdout (each node as it starts, its steps, what it produced), which logs and pipes keep readable."""

from __future__ import annotations

import json
import shutil
import sys
from typing import IO, Any

from host.executor.events import Event, Executed, Executing, ExecutionCached, ExecutionError, Progress


class PlainLines:
    """One line per node started, per step reported and per output produced."""

    def __init__(self, prompt: dict[str, Any], out: IO[str] | None = None) -> None:
        self.prompt = prompt
        self._out = out

    @property
    def out(self) -> IO[str]:
        return self._out if self._out is not None else sys.stdout

    def class_of(self, node: str) -> str:
        entry = self.prompt.get(node)
        return entry.get("class_type", "?") if isinstance(entry, dict) else "?"

    def emit(self, event: Event) -> None:
        if isinstance(event, Executing) and event.node is not None:
            self.say(f"running node {event.node} ({self.class_of(event.node)})")
        elif isinstance(event, Progress):
            total = f"/{event.max:g}" if event.max else ""
            self.say(f"  node {event.node} ({self.class_of(event.node)}) step {event.value:g}{total}")
        elif isinstance(event, Executed) and event.output:
            self.say(f"  node {event.node} produced {json.dumps(event.output)}")
        elif isinstance(event, ExecutionError):
            self.say(f"  node {event.node_id} ({event.node_type}) failed")

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def close(self) -> None:
        """Nothing is left open by plain lines (ProgressBars closes its bars)."""


class ProgressBars(PlainLines):
    """A bar over the prompt's nodes and a bar per node's steps (tqdm); outputs are printed above the bars."""

    def __init__(self, prompt: dict[str, Any], out: IO[str] | None = None) -> None:
        super().__init__(prompt, out)
        self.nodes: Any = None
        self.steps: Any = None
        self.steps_node: str | None = None
        self.done: set[str] = set()
        self.current: str | None = None

    @property
    def out(self) -> IO[str]:
        return self._out if self._out is not None else sys.stderr

    def _bar(self, **kwargs: Any) -> Any:
        from tqdm import tqdm

        # the terminal's size when the bar starts (COLUMNS/LINES first; 100x20 when a pty reports none: tqdm's own
        # probe then gets 0 rows and hides every bar)
        size = shutil.get_terminal_size((100, 20))
        return tqdm(file=self.out, ncols=size.columns, nrows=max(size.lines, 3), leave=False, **kwargs)

    def _nodes_bar(self) -> Any:
        if self.nodes is None:
            self.nodes = self._bar(total=len(self.prompt), desc="nodes", unit="node", position=0)
        return self.nodes

    def _finish(self, node: str | None) -> None:
        if node is not None and node not in self.done:
            self.done.add(node)
            self._nodes_bar().update(1)

    def emit(self, event: Event) -> None:
        if isinstance(event, ExecutionCached):
            for node in event.nodes:
                self._finish(node)
            self._nodes_bar().set_postfix_str(f"{len(event.nodes)} cached", refresh=True)
        elif isinstance(event, Executing):
            self._finish(self.current)
            self._close_steps()
            self.current = event.node
            if event.node is not None:
                self._nodes_bar().set_description_str(f"node {event.node} {self.class_of(event.node)}")
        elif isinstance(event, Progress):
            if self.steps is None or self.steps_node != event.node or (event.max and self.steps.total != event.max):
                self._close_steps()
                self.steps = self._bar(total=event.max or None, desc=f"  {self.class_of(event.node)}",
                                       unit="step", position=1)
                self.steps_node = event.node
            self.steps.n = event.value
            self.steps.refresh()
        elif isinstance(event, Executed) and event.output:
            self.say(f"node {event.node} ({self.class_of(event.node)}) produced {json.dumps(event.output)}")
        elif isinstance(event, ExecutionError):
            self.say(f"node {event.node_id} ({event.node_type}) failed")

    def say(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=self.out)

    def _close_steps(self) -> None:
        if self.steps is not None:
            self.steps.close()
            self.steps = None
            self.steps_node = None

    def close(self) -> None:
        self._finish(self.current)
        self._close_steps()
        if self.nodes is not None:
            self.nodes.close()
            self.nodes = None


def display_for(prompt: dict[str, Any], stream: IO[str] | None = None) -> PlainLines:
    """Bars when ``stream`` (stderr by default) is a terminal, plain lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return ProgressBars(prompt) if callable(isatty) and isatty() else PlainLines(prompt)
