"""ComfyUI's prompt syntax and chunking (MODELS_FACTS §2, ``sd1_clip.py:SDTokenizer``).

``(x)`` multiplies the weight by 1.1, ``(x:1.5)`` sets it, nesting multiplies, ``\\(``/``\\)`` are literal, an
unclosed ``(`` is literal and ``[x]`` is plain text (ComfyUI gives it no meaning). ``embedding:NAME`` inserts a
textual-inversion file's vectors. Tokens go in chunks of 77: start, 75 content tokens, end, then padding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch

START, END = 49406, 49407
CHUNK = 77
#: token groups at least this long are split across chunks; shorter ones move whole to the next chunk
MAX_WORD_LENGTH = 8
EMBEDDING = "embedding:"
_ESC_OPEN, _ESC_CLOSE = "\0\1", "\0\2"

Token = int | torch.Tensor
#: one chunk: 77 (token, weight) pairs; a token is an id or an embedding vector
Chunk = list[tuple[Token, float]]


def parse_parentheses(text: str) -> list[str]:
    """Top-level pieces: plain runs and whole ``(...)`` groups (parentheses kept)."""
    out: list[str] = []
    item, depth = "", 0
    for ch in text:
        if ch == "(":
            if depth == 0:
                if item:
                    out.append(item)
                item = "("
            else:
                item += ch
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(item + ")")
                item = ""
            else:
                item += ch
        else:
            item += ch
    if item:
        out.append(item)
    return out


def token_weights(text: str, weight: float = 1.0) -> list[tuple[str, float]]:
    """(segment, weight) pairs of an escaped prompt."""
    out: list[tuple[str, float]] = []
    for piece in parse_parentheses(text):
        w = weight
        if len(piece) >= 2 and piece[0] == "(" and piece[-1] == ")":
            inner = piece[1:-1]
            colon = inner.rfind(":")
            w = weight * 1.1
            if colon > 0:
                try:
                    w = float(inner[colon + 1:])
                    inner = inner[:colon]
                except ValueError:
                    pass
            out += token_weights(inner, w)
        else:
            out.append((piece, weight))
    return out


def weighted_segments(prompt: str) -> list[tuple[str, float]]:
    escaped = prompt.replace("\\(", _ESC_OPEN).replace("\\)", _ESC_CLOSE)
    return [(s.replace(_ESC_OPEN, "(").replace(_ESC_CLOSE, ")"), w) for s, w in token_weights(escaped)]


def split_embeddings(segment: str) -> list[str]:
    """A segment split before each `` embedding:``/``\\nembedding:`` (the separator's whitespace dropped)."""
    parts = re.split(f" {EMBEDDING}|\n{EMBEDDING}", segment)
    return [p for p in [parts[0], *(EMBEDDING + p for p in parts[1:])] if p != ""]


EmbeddingLookup = Callable[[str], "torch.Tensor | None"]
Encode = Callable[[str], list[int]]


def _embedding_group(word: str, weight: float, lookup: EmbeddingLookup) -> tuple[list[tuple[Token, float]], str]:
    """The vectors of ``embedding:NAME ...`` and the text left after NAME."""
    name_and_rest = word[len(EMBEDDING):].strip("\n").split()
    name = name_and_rest[0] if name_and_rest else ""
    leftover = " ".join(name_and_rest[1:])
    vec = lookup(name) if name else None
    if vec is None:
        stripped = name.strip(",")
        if stripped and len(stripped) < len(name):
            vec = lookup(stripped)
            leftover = f"{name[len(stripped):]} {leftover}"
    if vec is None:
        import logging

        logging.getLogger("nodehost.models").warning("embedding %r not found, skipped", name)
        return [], leftover
    rows = vec[None] if vec.ndim == 1 else vec
    return [(rows[i], weight) for i in range(rows.shape[0])], leftover


def token_groups(prompt: str, encode: Encode, lookup: EmbeddingLookup | None) -> list[list[tuple[Token, float]]]:
    """The prompt's token groups: one per tokenized piece, one per embedding."""
    groups: list[list[tuple[Token, float]]] = []
    for segment, weight in weighted_segments(prompt):
        for word in split_embeddings(segment):
            if word.startswith(EMBEDDING) and lookup is not None:
                vectors, leftover = _embedding_group(word, weight, lookup)
                if vectors:
                    groups.append(vectors)
                if leftover == "":
                    continue
                word = leftover
            groups.append([(t, weight) for t in encode(word)])
    return groups


def chunk(groups: list[list[tuple[Token, float]]], pad_id: int) -> list[Chunk]:
    """ComfyUI's packing of token groups into chunks of 77."""
    batch: Chunk = [(START, 1.0)]
    chunks = [batch]
    for group in groups:
        large = len(group) >= MAX_WORD_LENGTH
        while group:
            if len(group) + len(batch) > CHUNK - 1:
                room = CHUNK - len(batch) - 1
                if large:
                    batch.extend(group[:room])
                    batch.append((END, 1.0))
                    group = group[room:]
                else:
                    batch.append((END, 1.0))
                    batch.extend([(pad_id, 1.0)] * room)
                batch = [(START, 1.0)]
                chunks.append(batch)
            else:
                batch.extend(group)
                group = []
    batch.append((END, 1.0))
    batch.extend([(pad_id, 1.0)] * (CHUNK - len(batch)))
    return chunks


def load_embedding(path: Path, width: int, kind: str = "l") -> torch.Tensor | None:
    """A textual-inversion file's vectors [n, width] (A1111 ``string_to_param``, ``emb_params``, per-encoder
    ``clip_l``/``clip_g`` keys, or the file's only tensor); None when its width does not fit."""
    from host.models.checkpoint import open_state_dict

    sd = open_state_dict(path)
    vec: torch.Tensor | None = None
    if path.suffix.lower() not in (".safetensors", ".sft"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(raw, dict) and isinstance(raw.get("string_to_param"), dict):
            vec = next(iter(raw["string_to_param"].values()))
    for key in (f"clip_{kind}", "emb_params"):
        if vec is None and key in sd:
            vec = sd[key]
    if vec is None and len(sd):
        vec = sd[next(iter(sd))]
    if vec is None or vec.shape[-1] != width:
        return None
    return vec.float().reshape(-1, width)


__all__ = ["CHUNK", "END", "START", "Chunk", "chunk", "load_embedding", "parse_parentheses", "token_groups",
           "token_weights", "weighted_segments"]
