"""Build a tiny BERT checkpoint with a WordPiece vocabulary trained locally, with no network.

Tests and the demo need a model that loads through the same `from_pretrained` path as the real
LinkBERT / BioLinkBERT checkpoints (a `vocab.txt` BERT tokenizer and a BERT config), but small enough
to train for a few steps on two CPU cores. `build_tiny_bert` writes such a directory.

    python scripts/make_tiny_model.py --text_files demo/sample_data/*/*/train.json --output_dir demo_runs/tiny-bert
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_vocab(texts: Iterable[str], vocab_size: int, lowercase: bool) -> list[str]:
    """A BERT-style WordPiece vocabulary from `texts`, deterministically: special tokens ([PAD] at
    0), every character seen as a word start and as a `##` continuation (so any word can be spelled),
    then whole words by falling frequency (ties alphabetical) until `vocab_size`. Words left out are
    split into pieces, as rare words are in a real vocabulary. (The `tokenizers` WordPiece trainer
    breaks frequency ties differently from run to run, which made sub-word splits flaky.)"""
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    characters = sorted({character for word in counts for character in word})
    vocab = SPECIAL_TOKENS + characters + [f"##{character}" for character in characters]
    known = set(vocab)
    for word, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if len(vocab) >= vocab_size:
            break
        if word not in known:
            vocab.append(word)
            known.add(word)
    return vocab


def build_tiny_bert(
    output_dir: str | os.PathLike,
    texts: Iterable[str],
    *,
    vocab_size: int = 1000,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    lowercase: bool = True,
    dropout: float = 0.1,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised BERT (with MLM and NSP heads, like Devlin's checkpoints) and its
    tokenizer to `output_dir`, loadable with `AutoModel*.from_pretrained(output_dir)`."""
    import torch
    from transformers import BertConfig, BertForPreTraining, BertTokenizerFast

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    vocab = train_wordpiece_vocab(texts, vocab_size, lowercase)
    vocab_file = output_dir / "vocab.txt"
    vocab_file.write_text("".join(token + "\n" for token in vocab), encoding="utf-8")

    tokenizer = BertTokenizerFast(
        vocab=str(vocab_file), do_lower_case=lowercase, model_max_length=max_position_embeddings
    )
    tokenizer.save_pretrained(output_dir)

    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        type_vocab_size=2,
        pad_token_id=vocab.index("[PAD]"),
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    BertForPreTraining(config).save_pretrained(output_dir)
    return output_dir


def texts_from_files(paths: Iterable[str | os.PathLike]) -> Iterator[str]:
    """Yield every string value found in JSON-lines files (any field, nested lists included), or
    every line of a plain-text file, so a vocabulary can be trained on the task data itself."""
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    yield line
                    continue
                yield from _strings_in(record)


def _strings_in(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)
