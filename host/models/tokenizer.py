"""The CLIP BPE tokenizer, offline: transformers' CLIPTokenizer on the vocabulary shipped in ``clip_vocab/``."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

VOCAB_DIR = Path(__file__).parent / "clip_vocab"


class ClipTokenizer:
    """``ids(text)`` -> BPE ids without the start/end tokens (lower-cased, as CLIP's tokenizer)."""

    @cached_property
    def _hf(self):  # type: ignore[no-untyped-def]
        from transformers import CLIPTokenizer

        return CLIPTokenizer(str(VOCAB_DIR / "vocab.json"), str(VOCAB_DIR / "merges.txt"))

    def ids(self, text: str) -> list[int]:
        ids = self._hf(text)["input_ids"]
        return list(ids[1:-1])


__all__ = ["ClipTokenizer", "VOCAB_DIR"]
