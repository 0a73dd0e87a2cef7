"""Command lines built in code. The demo, the benchmarks and the tests call the entry points with
argv lists; `flags` writes them as keyword arguments, one flag per argument, as a reader thinks of
them (`flags(max_steps=40, do_train=True)` rather than a list of alternating strings)."""

from __future__ import annotations

from collections.abc import Mapping


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
