"""The rate-limited collection after each prompt (issue 15 item 1)."""

from __future__ import annotations

from host.server.memory import Collector


def test_collects_at_most_once_per_interval() -> None:
    now = [100.0]
    c = Collector(interval=10.0, clock=lambda: now[0])
    assert c.after_prompt() is True
    now[0] += 5
    assert c.after_prompt() is False
    now[0] += 5
    assert c.after_prompt() is True
    c.now()
    assert c.collections == 3
