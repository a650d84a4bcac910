"""``comfy.utils.ProgressBar`` reporting to the running node's hook, and interrupts reaching node code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from isolate import child_services
from isolate.context import CURRENT_NODE, InterruptProcessingException, NodeContext, current_node


class Hook:
    """A progress hook like the child's: records calls, raises once ``interrupted`` is set."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.interrupted = False

    def progress(self, node_id: str, value: float, max_value: float | None, preview: Any = None,
                 legacy: bool = True) -> None:
        if self.interrupted:
            raise InterruptProcessingException()
        ctx = current_node()
        self.calls.append((ctx.prompt_id if ctx else None, node_id, value, max_value, preview, legacy))


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    token = CURRENT_NODE.set(NodeContext("p1", "7", 0, h))
    try:
        yield h
    finally:
        CURRENT_NODE.reset(token)


def test_progress_bar_reports_to_the_running_node(hook: Hook, load: Any) -> None:
    utils = load("comfy.utils")
    bar = utils.ProgressBar(10)
    assert (bar.total, bar.current) == (10, 0)
    bar.update(3)
    bar.update(2)
    bar.update_absolute(20)  # clamped to the total
    bar.update_absolute(5, total=8, preview=("JPEG", "img", 512))
    assert (bar.total, bar.current) == (8, 5)
    assert hook.calls == [("p1", "7", 3, 10, None, True), ("p1", "7", 5, 10, None, True),
                          ("p1", "7", 10, 10, None, True), ("p1", "7", 5, 8, ("JPEG", "img", 512), True)]
    utils.ProgressBar(4, node_id="42").update(1)
    assert hook.calls[-1] == ("p1", "42", 1, 4, None, True)


def test_progress_bar_outside_execution_only_counts(load: Any) -> None:
    bar = load("comfy.utils").ProgressBar(5)
    bar.update(2)
    bar.update_absolute(9)
    assert bar.current == 5


def test_progress_from_a_thread_of_the_node(hook: Hook, load: Any) -> None:
    bar = load("comfy.utils").ProgressBar(3)
    worker = threading.Thread(target=bar.update, args=(1,))  # threads start without the node's context
    worker.start()
    worker.join()
    assert hook.calls == [("p1", "7", 1, 3, None, True)]


def test_global_hook_replaces_reporting(hook: Hook, load: Any) -> None:
    utils = load("comfy.utils")
    seen = []
    utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: seen.append((value, total)))
    try:
        utils.ProgressBar(2).update(1)
    finally:
        utils.set_progress_bar_global_hook(None)
    assert seen == [(1, 2)] and hook.calls == []
    assert utils.PROGRESS_BAR_ENABLED is True
    utils.set_progress_bar_enabled(False)
    assert utils.PROGRESS_BAR_ENABLED is False


def test_host_interrupt_raises_in_node_code(hook: Hook, load: Any) -> None:
    mm = load("comfy.model_management")
    utils = load("comfy.utils")
    assert mm.InterruptProcessingException is InterruptProcessingException
    assert not mm.processing_interrupted()
    mm.throw_exception_if_processing_interrupted()
    hook.interrupted = True  # what SIGUSR1 does to the child's hook
    assert mm.processing_interrupted() and mm.interrupt_processing
    with pytest.raises(InterruptProcessingException):
        mm.throw_exception_if_processing_interrupted()
    with pytest.raises(InterruptProcessingException):  # the host's flag stays until the next node call
        mm.throw_exception_if_processing_interrupted()
    with pytest.raises(mm.InterruptProcessingException):
        utils.ProgressBar(3).update(1)
    nodes = load("nodes")
    with pytest.raises(InterruptProcessingException):
        nodes.before_node_execution()


def test_pack_interrupt_is_scoped_to_its_prompt_and_told_to_the_host(hook: Hook, load: Any) -> None:
    mm = load("comfy.model_management")
    sent: list[tuple[str, Any]] = []
    child_services.set_notifier(lambda method, params: sent.append((method, params)))
    load("nodes").interrupt_processing()
    assert sent == [("interrupt", {"prompt_id": "p1"})]
    assert mm.processing_interrupted()
    token = CURRENT_NODE.set(NodeContext("p2", "1", 0, Hook()))
    try:
        assert not mm.processing_interrupted()  # another prompt does not see it
    finally:
        CURRENT_NODE.reset(token)
    with pytest.raises(InterruptProcessingException):
        load("comfy.utils").ProgressBar(2).update(1)  # consumed by the raise, as in ComfyUI
    assert not mm.processing_interrupted()
    mm.interrupt_current_processing(True)
    mm.interrupt_current_processing(False)
    assert not mm.processing_interrupted() and len(sent) == 2
    assert hook.calls == []


def test_interrupt_without_execution_context(load: Any) -> None:
    mm = load("comfy.model_management")
    mm.interrupt_current_processing()  # no host: the notification is dropped
    assert mm.processing_interrupted()
    with pytest.raises(InterruptProcessingException):
        mm.throw_exception_if_processing_interrupted()
    assert not mm.processing_interrupted()
