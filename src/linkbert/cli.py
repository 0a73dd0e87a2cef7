"""Command lines: parsed with one-line errors, and built in code.

Every entry point reports a problem as one `error: ...` line (linkbert.errors); argparse would print
its usage block and `prog: error: ...` instead. `ArgumentParser` (and `OneLineErrors`, mixed into
HfArgumentParser by the fine-tuning and pretraining flags) keeps argparse's exit status 2 for a bad
command line but prints the one line, which names the flag.

The demo, the benchmarks and the tests call the entry points with argv lists; `flags` writes them as
keyword arguments, one flag per argument, as a reader thinks of them (`flags(max_steps=40,
do_train=True)` rather than a list of alternating strings).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping


class OneLineErrors:
    """Mixin for an argparse parser: a bad command line (unknown, abbreviated or missing flag, a value
    of the wrong type) exits with status 2 after one `error:` line; --help still prints the usage."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


class ArgumentParser(OneLineErrors, argparse.ArgumentParser):
    """argparse.ArgumentParser with one-line errors and no abbreviated flags (`--num_shard` is not
    taken for `--num_shards`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        # the description is the script's docstring: what it does and example commands, laid out by hand
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def flags_from_mapping(mapping: Mapping[str, object]) -> list[str]:
    """{"max_steps": 40, "do_train": True, "seed": None} -> ["--max_steps", "40", "--do_train"]:
    True is a bare switch, False and None are left out, anything else is its str()."""
    argv: list[str] = []
    for key, value in mapping.items():
        if value is True:
            argv.append(f"--{key}")
        elif value is not False and value is not None:
            argv += [f"--{key}", str(value)]
    return argv


def flags(**values: object) -> list[str]:
    """flags_from_mapping of the keyword arguments, in the order given."""
    return flags_from_mapping(values)
