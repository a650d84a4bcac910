"""ComfyUI's prompt syntax, the offline tokenizer's ids and the chunking into 77s."""

from __future__ import annotations

import pytest

from host.models.prompt import END, START, chunk, token_groups, weighted_segments
from host.models.tokenizer import ClipTokenizer


@pytest.fixture(scope="module")
def tok() -> ClipTokenizer:
    return ClipTokenizer()


def test_known_clip_ids(tok: ClipTokenizer) -> None:
    assert tok.ids("a photo of a cat") == [320, 1125, 539, 320, 2368]
    assert tok.ids("A Photo of a CAT") == [320, 1125, 539, 320, 2368]  # lower-cased
    assert tok.ids("masterpiece, best quality") == [12066, 267, 949, 3027]
    assert tok._hf.convert_tokens_to_ids(["<|startoftext|>", "<|endoftext|>", "!"]) == [START, END, 0]
    assert len(tok._hf) == 49408


@pytest.mark.parametrize(("prompt", "expected"), [
    ("plain", [("plain", 1.0)]),
    ("(x)", [("x", pytest.approx(1.1))]),
    ("((x))", [("x", pytest.approx(1.21))]),
    ("(x:1.2)", [("x", 1.2)]),
    ("((x:1.5))", [("x", 1.5)]),
    ("a (b:0.5) c", [("a ", 1.0), ("b", 0.5), (" c", 1.0)]),
    ("(a (b) c:1.5)", [("a ", 1.5), ("b", pytest.approx(1.65)), (" c", 1.5)]),
    ("\\(lit\\) (w)", [("(lit) ", 1.0), ("w", pytest.approx(1.1))]),
    ("(unclosed", [("(unclosed", 1.0)]),
    ("[x]", [("[x]", 1.0)]),  # ComfyUI gives [] no meaning
    ("(x:abc)", [("x:abc", pytest.approx(1.1))]),
    ("(:1.3)", [(":1.3", pytest.approx(1.1))]),  # colon at index 0 is no weight
])
def test_weights(prompt: str, expected: list[tuple[str, float]]) -> None:
    assert weighted_segments(prompt) == expected


def test_chunk_padding_sd1_and_sd2(tok: ClipTokenizer) -> None:
    groups = token_groups("a photo of a cat", tok.ids, None)
    (c,) = chunk(groups, 49407)
    assert [t for t, _ in c] == [START, 320, 1125, 539, 320, 2368, END] + [END] * 70
    (c2,) = chunk(groups, 0)
    assert [t for t, _ in c2][7:] == [0] * 70 and len(c2) == 77
    (empty,) = chunk(token_groups("", tok.ids, None), 49407)
    assert [t for t, _ in empty] == [START] + [END] * 76


def test_long_prompt_75_content_tokens_per_chunk(tok: ClipTokenizer) -> None:
    text = " ".join(["cat"] * 200)  # one group of 200 tokens: split 75/75/50
    chunks = chunk(token_groups(text, tok.ids, None), 49407)
    assert [len(c) for c in chunks] == [77, 77, 77]
    assert [sum(1 for t, _ in c if t == 2368) for c in chunks] == [75, 75, 50]
    assert all(c[0][0] == START and c[76][0] == END for c in chunks)


def test_small_group_moves_whole_to_next_chunk(tok: ClipTokenizer) -> None:
    # 74 tokens, then a weighted group of 3: 74 + 3 > 76, under 8 tokens -> closes chunk 1 and moves
    text = " ".join(["cat"] * 74) + " (dog dog dog:1.2)"
    chunks = chunk(token_groups(text, tok.ids, None), 49407)
    assert len(chunks) == 2
    assert [t for t, _ in chunks[0]][75:] == [END, END]
    assert [(t, w) for t, w in chunks[1][1:4]] == [(1929, 1.2)] * 3


def test_embedding_tokens(tok: ClipTokenizer) -> None:
    import torch

    vec = torch.ones(2, 768)
    found: list[str] = []

    def lookup(name: str) -> torch.Tensor | None:
        found.append(name)
        return vec if name == "style" else None

    groups = token_groups("a embedding:style, cat (embedding:nope:1.2)", tok.ids, lookup)
    assert found == ["style,", "style", "nope"]
    flat = [t for g in groups for t, _ in g]
    assert sum(1 for t in flat if not isinstance(t, int)) == 2
    assert tok.ids("a") == [flat[0]] and any(isinstance(t, int) and t == 267 for t in flat)  # the comma is kept
