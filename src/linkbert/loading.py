"""Load tokenizers, configs and models from a local checkpoint directory or a Hub id, for
fine-tuning and pretraining alike.

Researchers often run where the HuggingFace Hub cannot be reached (clusters without internet). A
failed download then ends in one line telling them to fetch the checkpoint elsewhere and pass its
directory, instead of a wall of stack traces; a local checkpoint that cannot be read (corrupt
weights, a tokenizer that lost its vocabulary) is named the same way.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from linkbert.errors import UsageError

logger = logging.getLogger(__name__)


def looks_like_path(name: str) -> bool:
    """A name meant as a local folder rather than a Hub id ("org/model"): it starts with . / ~, has
    more than one slash, or its parent folder exists here (`models/BioLinkBERT-base` with a local
    `models/`)."""
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        return True
    parent = Path(name).parent
    return str(parent) not in ("", ".") and parent.is_dir()


@functools.cache
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub answers a TCP connection within `timeout` seconds. Without a network,
    transformers retries each file for half a minute or more before failing; this asks once. Behind
    a proxy the answer cannot be told this way, so the Hub is assumed reachable."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    if any(os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _in_local_cache(name: str, cache_dir: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name, "config.json", cache_dir=cache_dir), str)


def check_source(name: str, what: str = "model", cache_dir: str | None = None) -> bool:
    """Fail at once, before anything is loaded, when `name` cannot be loaded from where it points: a
    path-like name with no folder there, or a Hub id while the Hub is unreachable and the id is not
    in the local cache. Return False when the name must be read from the local cache only."""
    if Path(name).is_dir():
        return True
    if looks_like_path(name):
        raise UsageError(f"checkpoint directory not found: {name}")
    if hub_reachable():
        return True
    if not _in_local_cache(name, cache_dir):
        raise UsageError(
            f"cannot reach the HuggingFace Hub to load the {what} '{name}', and it is not in the local cache. "
            f"On a machine with internet run `hf download {name} --local-dir DIR`, copy DIR here, and pass "
            "--model_name_or_path DIR"
        )
    return False


def load_pretrained(what: str, name: str, loader, *args, **kwargs):
    """`loader(name, ...)` (a from_pretrained), its failures turned into one UsageError line. A Hub id
    is looked up in the local cache only when the Hub cannot be reached, and fails at once when it
    is not there either."""
    from safetensors import SafetensorError

    local = Path(name).is_dir()
    if not check_source(name, what, kwargs.get("cache_dir")):
        kwargs["local_files_only"] = True
    try:
        return loader(name, *args, **kwargs)
    # RuntimeError: torch on a truncated .bin or mismatched shapes; SafetensorError: a corrupt .safetensors
    except (OSError, ValueError, ImportError, RuntimeError, SafetensorError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if local:
            raise UsageError(f"could not load the {what} from directory {name}: {first_line}") from None
        raise UsageError(
            f"could not load the {what} '{name}' from the HuggingFace Hub ({first_line[:160]}). "
            f"On a machine with internet run `hf download {name} --local-dir DIR`, copy DIR here, and pass "
            "--model_name_or_path DIR"
        ) from None


def hub_kwargs(model_args) -> dict:
    return {
        "cache_dir": model_args.cache_dir,
        "revision": model_args.model_revision,
        "token": model_args.token,
        "trust_remote_code": model_args.trust_remote_code,
    }


def load_fast_tokenizer(name: str, **kwargs):
    """The fast (Rust) tokenizer of `name`: offsets and word alignment need one. A folder whose
    vocabulary file is missing still loads, with the special tokens only: refused."""
    from transformers import AutoTokenizer

    tokenizer = load_pretrained("tokenizer", name, AutoTokenizer.from_pretrained, use_fast=True, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(f"the tokenizer of {name} has no fast (Rust) version; offsets and word alignment need one")
    if len(tokenizer) <= len(set(tokenizer.all_special_ids)):
        raise UsageError(
            f"the tokenizer of {name} has only its {len(tokenizer)} special tokens: its vocabulary file (vocab.txt or "
            "tokenizer.json) is missing or empty"
        )
    return tokenizer


def load_tokenizer(model_args):
    """The fine-tuning tokenizer: --tokenizer_name, else the model's."""
    return load_fast_tokenizer(model_args.tokenizer_name or model_args.model_name_or_path, **hub_kwargs(model_args))


def check_tokenizer_fits(tokenizer, config, name: str) -> None:
    """Refuse a tokenizer that cannot be the model's: ids beyond the model's embeddings, or a
    vocabulary covering less than half of them (another model's tokenizer, or a folder that lost its
    vocab.txt and loads with the special tokens only, which would train on [UNK])."""
    size, embeddings = len(tokenizer), getattr(config, "vocab_size", None)
    if embeddings and (size > embeddings or size < embeddings // 2):
        raise UsageError(
            f"the tokenizer of {name} has {size} tokens but the model has {embeddings} token embeddings: the "
            "tokenizer is not this model's (--tokenizer_name points elsewhere, or its vocabulary file is wrong)"
        )


def load_config(model_args, **overrides):
    from transformers import AutoConfig

    name = model_args.config_name or model_args.model_name_or_path
    return load_pretrained("config", name, AutoConfig.from_pretrained, **overrides, **hub_kwargs(model_args))


def load_model(model_args, model_class, config):
    """Load `model_class` (an AutoModelFor... class) with `config`; heads the checkpoint lacks are
    initialised freshly, as in any fine-tuning run. transformers' own loading report (a table with
    colour codes, on every run) is replaced by one log line naming the new and the unused weights."""
    from transformers.utils import logging as hf_logging

    kwargs = hub_kwargs(model_args)
    if model_args.attn_implementation:
        kwargs["attn_implementation"] = model_args.attn_implementation
    # transformers' root logger: its loading report and its tensor-parallel notes come from submodules
    report_logger = hf_logging.get_logger("transformers")
    previous = report_logger.level
    report_logger.setLevel(max(logging.ERROR, previous))
    try:
        model, info = load_pretrained(
            "model",
            model_args.model_name_or_path,
            model_class.from_pretrained,
            config=config,
            output_loading_info=True,
            **kwargs,
        )
    finally:
        report_logger.setLevel(previous)
    logger.info(
        "loaded %s; newly initialised: %s; in the checkpoint but not used: %s",
        model_args.model_name_or_path,
        _names(info.get("missing_keys", ())),
        _names(info.get("unexpected_keys", ())),
    )
    return model


def _names(keys, shown: int = 6) -> str:
    keys = sorted(keys)
    if not keys:
        return "none"
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
