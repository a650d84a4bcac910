"""Derive ``vocab.json`` and ``merges.txt`` (transformers' CLIPTokenizer files) from CLIP's BPE list.

Run once: ``python -m host.models.clip_vocab.derive PATH/bpe_simple_vocab_16e6.txt.gz`` (the file ships in the
``open_clip_torch`` wheel, MIT, see LICENSE.open_clip). The ids follow CLIP's own tokenizer: the 256 byte
symbols, the same with ``</w>``, one entry per merge (the first 48894 merges), then ``<|startoftext|>`` 49406 and
``<|endoftext|>`` 49407.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
MERGES = 49152 - 256 - 2


def byte_symbols() -> list[str]:
    """GPT-2/CLIP's byte -> printable character table, in its order: printable bytes first, then the rest
    mapped to 256 + n."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def derive(bpe_gz: Path, out: Path = HERE) -> int:
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = lines[1:MERGES + 1]
    symbols = byte_symbols()
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False),
                                    encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return len(vocab)


if __name__ == "__main__":
    print(derive(Path(sys.argv[1])))
