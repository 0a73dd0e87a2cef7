"""A corpus of bad inputs for every entry point: each one must stop with the right exit status and
exactly one `error:` line that names the file (and the line and field where there is one), print no
traceback, and leave nothing behind: no output folder or file, no temporary file, no change to a
folder that existed before the run.

Every case is a small function that builds its inputs in tmp_path (data drawn with a fixed seed, the
session's tiny BERT) and returns what the run is expected to say. Exit status: 2 for a bad command
line, bad data or a bad checkpoint; 1 for an output that cannot be written (and for every error of
the preprocessing scripts, whose convention is 1). A bad command line is reported by argparse's
SystemExit(2), as `--help` exits with SystemExit(0); every other error is main's return value.

Classes of bad input (the middle part of each test id): malformed files, bad labels, bad flag values,
bad models and checkpoints, duplicate QA ids, outputs that cannot be written, recipe environment
variables, and (separate tests) byte-order marks that must be dropped and a disk that fills up.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import FAST_FLAGS, REPO, VOCAB_TEXT, full_run_argv, load_entry_point, read_jsonl, write_jsonl

from linkbert.cli import flags


def load_script(name: str):
    """main() of scripts/<name>.py."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


SCRIPTS = ("preprocess_mrqa", "preprocess_blurb", "preprocess_medqa", "preprocess_mmlu", "make_tables")
ENTRY = {
    "run_seqcls": load_entry_point("seqcls/run_seqcls.py"),
    "run_ner": load_entry_point("tokcls/run_ner.py"),
    "run_qa": load_entry_point("qa/run_qa.py"),
    "run_multiple_choice": load_entry_point("mc/run_multiple_choice.py"),
    "run_pretrain": load_entry_point("pretrain/run_pretrain.py"),
    "build_pairs": load_entry_point("pretrain/build_pairs.py"),
    "convert_wikipedia": load_entry_point("pretrain/convert_wikipedia.py"),
    "convert_pubmed": load_entry_point("pretrain/convert_pubmed.py"),
    **{name: load_script(name) for name in SCRIPTS},
}
RECIPE = "recipe"  # cases run as a subprocess: the shell recipes and the launcher module
WORDS = sorted({word for line in VOCAB_TEXT for word in line.split()} - {"?"})
READ_ONLY = Path("/sys")  # refuses new files even to root (chmod does not stop root)


# ---------------------------------------------------------------- the harness


@dataclass
class Bad:
    """A bad run: its argv (or, for recipe cases, the whole command), the exit status and the
    fragments its one error line must contain; `output` must not exist afterwards; for recipe
    cases, `env` overrides the environment and `marker` is a file that an injected command would
    create."""

    argv: list[str]
    status: int
    says: tuple[str, ...]
    output: Path | None = None
    env: dict[str, str] | None = None
    marker: Path | None = None


@dataclass
class Ctx:
    tmp: Path
    model: Path
    request: pytest.FixtureRequest

    @property
    def pairs(self) -> Path:
        """A build_pairs output made with the tiny model's tokenizer (built once per module)."""
        return self.request.getfixturevalue("pairs")

    def model_copy(self) -> Path:
        copy = self.tmp / "model"
        shutil.copytree(self.model, copy)
        return copy


CASES = []  # pytest.param(entry, build, id=...)
KINDS: list[tuple[str, str]] = []  # (entry, class of bad input) of each case


def case(entry: str, kind: str, name: str):
    """Register the decorated builder as the test case `<entry>-<kind>-<name>`."""

    def register(build: Callable[[Ctx], Bad]) -> Callable[[Ctx], Bad]:
        CASES.append(pytest.param(entry, build, id=f"{entry}-{kind}-{name}"))
        KINDS.append((entry, kind))
        return build

    return register


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with, for files, size and modification time (folders' times change when
    a probe file comes and goes, which leaves nothing behind)."""
    entries = {}
    for path in root.rglob("*"):
        stat = path.lstat()
        entries[str(path.relative_to(root))] = None if path.is_dir() else (stat.st_size, stat.st_mtime_ns)
    return entries


def run_case(entry: str, bad: Bad, capsys) -> tuple[int, str]:
    """Run the case in-process (main(argv)) or, for recipes, as a subprocess; return (status, stderr)."""
    if entry == RECIPE:
        env = dict(os.environ, PYTHON=sys.executable, **(bad.env or {}))
        result = subprocess.run(bad.argv, env=env, capture_output=True, text=True, timeout=120)
        return result.returncode, result.stderr
    try:
        status = ENTRY[entry](bad.argv)
    except SystemExit as exit:  # argparse reports a bad command line by exiting, status 2
        status = exit.code
    return status, capsys.readouterr().err


def error_line(stderr: str) -> str:
    """The one `error: ` line of stderr (progress bars and library warnings may surround it)."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("error: "), errors[0]
    return errors[0]


@pytest.fixture
def ctx(tmp_path, tiny_model, request) -> Ctx:
    return Ctx(tmp_path, tiny_model, request)


# ---------------------------------------------------------------- data, made with a fixed seed


def words(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(count)]


def seqcls_record(rng, i):
    return {"id": f"s{i}", "sentence": " ".join(words(rng, 6)), "label": ["0", "CPR:3"][i % 2]}


def regression_record(rng, i):
    return {
        "id": f"r{i}",
        "sentence1": " ".join(words(rng, 4)),
        "sentence2": " ".join(words(rng, 4)),
        "label": i % 5 / 2,
    }


def ner_record(rng, i):
    tags = ["O", "B-Chem", "I-Chem"]
    return {"id": f"n{i}", "tokens": words(rng, 5), "ner_tags": [tags[(i + j) % 3] for j in range(5)]}


def qa_record(rng, i):
    context = words(rng, 12)
    start = len(" ".join(context[:5])) + 1
    answers = {"text": [context[5]], "answer_start": [start]}
    return {"id": f"q{i}", "question": " ".join(words(rng, 4)) + " ?", "context": " ".join(context), "answers": answers}


def mc_record(rng, i):
    options = {f"ending{k}": " ".join(words(rng, 3)) for k in range(4)}
    return {"id": f"m{i}", "sent1": " ".join(words(rng, 8)), "sent2": "", **options, "label": i % 4}


def line_bytes(item) -> bytes:
    """A dict as one JSON line; a str or bytes as it is (malformed lines are written raw)."""
    if isinstance(item, bytes):
        return item
    return (item if isinstance(item, str) else json.dumps(item)).encode("utf-8")


def write_lines(path: Path, items, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(line_bytes(item) + b"\n" for item in items)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def put(line: int, item, replace: bool = False):
    """An edit of a split's records: `item` put on 1-based `line` (inserted, or replacing that record)."""

    def edit(records: list) -> list:
        return [*records[: line - 1], item, *records[line - 1 + replace :]]

    return edit


def splits(ctx: Ctx, make, sizes=(8, 4, 4), **edits) -> dict[str, Path]:
    """train/dev/test JSON-lines files of `make` records under tmp/data; an edit (see put, or a list
    of lines) replaces a split's content with bad lines."""
    assert set(edits) <= {"train", "dev", "test"}, edits
    rng = random.Random(0)
    paths = {}
    for offset, (split, size) in enumerate(zip(("train", "dev", "test"), sizes, strict=True)):
        records = [make(rng, 100 * offset + i) for i in range(size)]
        edit = edits.get(split)
        items = edit if isinstance(edit, list) else edit(records) if edit else records
        paths[split] = write_lines(ctx.tmp / "data" / f"{split}.json", items)
    return paths


TASK_FLAGS = {
    "run_seqcls": ["--max_seq_length", "32"],
    "run_ner": ["--max_seq_length", "32"],
    "run_qa": ["--max_seq_length", "64", "--doc_stride", "16"],
    "run_multiple_choice": ["--max_seq_length", "32"],
}


def finetune(entry: str, ctx: Ctx, paths: dict, *extra: str, model: Path | None = None, out: Path | None = None):
    """A full train/eval/predict command line for a fine-tuning entry point; later flags win."""
    out = out or ctx.tmp / "out"
    return [*full_run_argv(model or ctx.model, paths, out), *TASK_FLAGS[entry], *FAST_FLAGS, *extra]


def without(argv: list[str], flag: str) -> list[str]:
    """argv with `flag` and its value removed."""
    index = argv.index(flag)
    return argv[:index] + argv[index + 2 :]


def not_utf8(json_text: str) -> bytes:
    """A JSON line whose string holds byte 0xff (never valid UTF-8) in place of `?`."""
    return json_text.encode("utf-8").replace(b"?", b"\xff")


# ================================================================ run_seqcls


def seqcls(ctx, *extra, **edits) -> list[str]:
    return finetune("run_seqcls", ctx, splits(ctx, seqcls_record, **edits), *extra)


@case("run_seqcls", "malformed", "invalid-json-line-3")
def _(ctx):
    argv = seqcls(ctx, train=put(3, '{"id": "x", "sentence": "the gene",'))
    return Bad(argv, 2, ("data/train.json:3: not valid JSON",), ctx.tmp / "out")


@case("run_seqcls", "malformed", "invalid-json-into-existing-output-dir")
def _(ctx):
    out = ctx.tmp / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    argv = seqcls(ctx, "--overwrite_output_dir", dev=put(4, "{"))
    return Bad(argv, 2, ("data/dev.json:4: not valid JSON",))  # and out/ unchanged (the snapshot)


@case("run_seqcls", "malformed", "line-not-an-object")
def _(ctx):
    argv = seqcls(ctx, dev=put(2, '["the gene", "0"]'))
    return Bad(argv, 2, ("data/dev.json:2: expected a JSON object, got list",), ctx.tmp / "out")


@case("run_seqcls", "malformed", "empty-file")
def _(ctx):
    argv = seqcls(ctx, test=[])
    return Bad(argv, 2, ("data/test.json: no examples: the file is empty",), ctx.tmp / "out")


@case("run_seqcls", "malformed", "missing-file")
def _(ctx):
    argv = seqcls(ctx)
    (ctx.tmp / "data" / "dev.json").unlink()
    return Bad(argv, 2, ("data/dev.json: file not found (given as --validation_file)",), ctx.tmp / "out")


@case("run_seqcls", "malformed", "missing-field")
def _(ctx):
    argv = seqcls(ctx, train=put(2, {"id": "x", "label": "0"}))
    return Bad(argv, 2, ("data/train.json:2: field 'sentence': missing",), ctx.tmp / "out")


@case("run_seqcls", "malformed", "wrong-type")
def _(ctx):
    argv = seqcls(ctx, train=put(4, {"id": "x", "sentence": 17, "label": "0"}))
    return Bad(argv, 2, ("data/train.json:4: field 'sentence': expected a string, got int",), ctx.tmp / "out")


@case("run_seqcls", "malformed", "not-utf8-line-4")
def _(ctx):
    argv = seqcls(ctx, train=put(4, not_utf8('{"id": "x", "sentence": "caf? gene", "label": "0"}')))
    return Bad(argv, 2, ("data/train.json:4: not UTF-8 text (byte 0xff at column 29)",), ctx.tmp / "out")


@case("run_seqcls", "labels", "nan-regression-label")
def _(ctx):
    paths = splits(ctx, regression_record, train=put(3, {"sentence1": "a", "sentence2": "b", "label": float("nan")}))
    argv = finetune("run_seqcls", ctx, paths)
    return Bad(argv, 2, ("data/train.json:3: field 'label': expected a finite number, got nan",), ctx.tmp / "out")


@case("run_seqcls", "labels", "infinite-regression-label")
def _(ctx):
    paths = splits(ctx, regression_record, train=put(5, '{"sentence1": "a", "sentence2": "b", "label": -Infinity}'))
    argv = finetune("run_seqcls", ctx, paths)
    return Bad(argv, 2, ("data/train.json:5: field 'label': expected a finite number, got -inf",), ctx.tmp / "out")


@case("run_seqcls", "labels", "eval-label-not-in-train")
def _(ctx):
    argv = seqcls(ctx, dev=put(2, {"id": "x", "sentence": "the gene", "label": "CPR:9"}))
    return Bad(argv, 2, ("data/dev.json:2: field 'label': 'CPR:9' never seen in train",), ctx.tmp / "out")


@case("run_seqcls", "flags", "max-seq-length-0")
def _(ctx):
    return Bad(seqcls(ctx, "--max_seq_length", "0"), 2, ("--max_seq_length 0: expected a positive number",))


@case("run_seqcls", "flags", "max-seq-length-negative")
def _(ctx):
    return Bad(seqcls(ctx, "--max_seq_length", "-8"), 2, ("--max_seq_length -8: expected a positive number",))


@case("run_seqcls", "flags", "max-train-samples-negative")
def _(ctx):
    argv = seqcls(ctx, "--max_train_samples", "-1")
    return Bad(argv, 2, ("--max_train_samples -1: expected a positive number",), ctx.tmp / "out")


@case("run_seqcls", "flags", "max-seq-length-not-a-number")
def _(ctx):
    argv = seqcls(ctx, "--max_seq_length", "long")
    return Bad(argv, 2, ("--max_seq_length", "'long'"), ctx.tmp / "out")


@case("run_seqcls", "flags", "abbreviated-num-train-epoch")
def _(ctx):
    argv = seqcls(ctx, "--num_train_epoch", "1")
    return Bad(argv, 2, ("not used by the HfArgumentParser", "'--num_train_epoch', '1'"), ctx.tmp / "out")


@case("run_seqcls", "flags", "unknown-flag")
def _(ctx):
    return Bad(seqcls(ctx, "--learning_rat", "1e-5"), 2, ("'--learning_rat', '1e-5'",), ctx.tmp / "out")


@case("run_seqcls", "flags", "missing-output-dir")
def _(ctx):
    return Bad(without(seqcls(ctx), "--output_dir"), 2, ("--output_dir is required",), ctx.tmp / "out")


@case("run_seqcls", "model", "tokenizer-lost-its-vocabulary")
def _(ctx):
    model = ctx.model_copy()
    (model / "vocab.txt").unlink()
    (model / "tokenizer.json").unlink()
    argv = finetune("run_seqcls", ctx, splits(ctx, seqcls_record), model=model)
    return Bad(
        argv,
        2,
        (f"the tokenizer of {model} has only its 5 special tokens", "vocab.txt"),
        ctx.tmp / "out",
    )


@case("run_seqcls", "model", "truncated-safetensors")
def _(ctx):
    model = ctx.model_copy()
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    argv = finetune("run_seqcls", ctx, splits(ctx, seqcls_record), model=model)
    return Bad(argv, 2, (f"could not load the model from directory {model}",), ctx.tmp / "out")


@case("run_seqcls", "model", "model-folder-missing")
def _(ctx):
    missing = ctx.tmp / "models" / "BioLinkBERT-base"
    argv = finetune("run_seqcls", ctx, splits(ctx, seqcls_record), model=missing)
    return Bad(argv, 2, (f"checkpoint directory not found: {missing}",), ctx.tmp / "out")


@case("run_seqcls", "model", "resume-from-missing-checkpoint")
def _(ctx):
    missing = ctx.tmp / "runs" / "checkpoint-500"
    argv = seqcls(ctx, "--resume_from_checkpoint", str(missing))
    return Bad(argv, 2, (f"--resume_from_checkpoint {missing}: checkpoint directory not found",), ctx.tmp / "out")


@case("run_seqcls", "outputs", "output-dir-is-a-file")
def _(ctx):
    out = ctx.tmp / "out"
    out.write_text("notes\n")
    argv = seqcls(ctx)
    return Bad(argv, 1, (f"{out}: is not a folder; --output_dir must name a folder",))


@case("run_seqcls", "outputs", "output-dir-under-a-file")
def _(ctx):
    (ctx.tmp / "notes").write_text("notes\n")
    out = ctx.tmp / "notes" / "out"
    argv = finetune("run_seqcls", ctx, splits(ctx, seqcls_record), out=out)
    return Bad(argv, 1, (f"{out}: is not a folder (its parent {ctx.tmp / 'notes'} is a file)",))


@case("run_seqcls", "outputs", "read-only-output-dir")
def _(ctx):
    out = READ_ONLY / "linkbert-out"
    argv = finetune("run_seqcls", ctx, splits(ctx, seqcls_record), out=out)
    return Bad(argv, 1, (f"{out}: cannot write in {READ_ONLY}: permission denied",), out)


# ================================================================ run_ner


def ner(ctx, *extra, **edits) -> list[str]:
    return finetune("run_ner", ctx, splits(ctx, ner_record, **edits), *extra)


@case("run_ner", "labels", "tag-count-not-matching-words")
def _(ctx):
    argv = ner(ctx, train=put(2, {"tokens": ["the", "gene"], "ner_tags": ["O", "O", "B-Chem"]}))
    return Bad(argv, 2, ("data/train.json:2: field 'ner_tags': expected one tag per word: 2 words",), ctx.tmp / "out")


@case("run_ner", "labels", "eval-tag-not-in-train")
def _(ctx):
    argv = ner(ctx, test=put(3, {"tokens": ["the", "gene"], "ner_tags": ["O", "B-Gene"]}))
    return Bad(argv, 2, ("data/test.json:3: field 'ner_tags': tag 'B-Gene' never seen in train",), ctx.tmp / "out")


@case("run_ner", "malformed", "tokens-not-a-list")
def _(ctx):
    argv = ner(ctx, train=put(1, {"tokens": "the gene", "ner_tags": ["O", "O"]}))
    return Bad(argv, 2, ("data/train.json:1: field 'tokens': expected a list of words, got str",), ctx.tmp / "out")


@case("run_ner", "malformed", "invalid-json-line-2")
def _(ctx):
    argv = ner(ctx, dev=put(2, '{"tokens": ["the"], "ner_tags": ["O"]'))
    return Bad(argv, 2, ("data/dev.json:2: not valid JSON",), ctx.tmp / "out")


@case("run_ner", "malformed", "not-utf8-line-3")
def _(ctx):
    argv = ner(ctx, test=put(3, not_utf8('{"tokens": ["caf?"], "ner_tags": ["O"]}')))
    return Bad(argv, 2, ("data/test.json:3: not UTF-8 text",), ctx.tmp / "out")


@case("run_ner", "flags", "max-seq-length-0")
def _(ctx):
    return Bad(ner(ctx, "--max_seq_length", "0"), 2, ("--max_seq_length 0: expected a positive number",))


@case("run_ner", "flags", "abbreviated-label-all-token")
def _(ctx):
    return Bad(ner(ctx, "--label_all_token"), 2, ("'--label_all_token'",), ctx.tmp / "out")


@case("run_ner", "model", "corrupt-safetensors")
def _(ctx):
    model = ctx.model_copy()
    (model / "model.safetensors").write_bytes(random.Random(0).randbytes(4096))
    argv = finetune("run_ner", ctx, splits(ctx, ner_record), model=model)
    return Bad(argv, 2, (f"could not load the model from directory {model}",), ctx.tmp / "out")


@case("run_ner", "outputs", "output-dir-is-a-file")
def _(ctx):
    out = ctx.tmp / "out"
    out.write_text("")
    return Bad(ner(ctx), 1, (f"{out}: is not a folder",))


# ================================================================ run_qa


def qa(ctx, *extra, **edits) -> list[str]:
    return finetune("run_qa", ctx, splits(ctx, qa_record, **edits), *extra)


def qa_duplicate_of(line: int):
    """An edit that repeats the record of `line` as the next line."""

    def edit(records):
        return [*records[:line], dict(records[line - 1]), *records[line:]]

    return edit


@case("run_qa", "duplicate-ids", "train-line-3")
def _(ctx):
    argv = qa(ctx, train=qa_duplicate_of(2))
    return Bad(argv, 2, ("data/train.json:3: field 'id': 'q1' appears twice in this file",), ctx.tmp / "out")


@case("run_qa", "duplicate-ids", "dev-line-4")
def _(ctx):
    argv = qa(ctx, dev=put(4, dict(qa_record(random.Random(1), 100), question="another question ?")))
    return Bad(argv, 2, ("data/dev.json:4: field 'id': 'q100' appears twice in this file",), ctx.tmp / "out")


@case("run_qa", "duplicate-ids", "into-existing-output-dir")
def _(ctx):
    out = ctx.tmp / "out"
    (out / "checkpoint-5").mkdir(parents=True)
    argv = qa(ctx, "--overwrite_output_dir", test=qa_duplicate_of(4))
    return Bad(argv, 2, ("data/test.json:5: field 'id': 'q203' appears twice in this file",))


@case("run_qa", "flags", "doc-stride-0")
def _(ctx):
    return Bad(qa(ctx, "--doc_stride", "0"), 2, ("--doc_stride 0: expected a positive number",), ctx.tmp / "out")


@case("run_qa", "flags", "doc-stride-not-below-max-seq-length")
def _(ctx):
    argv = qa(ctx, "--doc_stride", "64")
    return Bad(argv, 2, ("--doc_stride 64 must be smaller than --max_seq_length 64",), ctx.tmp / "out")


@case("run_qa", "flags", "doc-stride-without-room-after-long-question")
def _(ctx):
    long_question = dict(qa_record(random.Random(2), 150), question=" ".join(["protein"] * 40) + " ?")
    argv = qa(ctx, "--doc_stride", "24", dev=put(2, long_question))
    says = ("data/dev.json:2: field 'question': the question is 41 tokens long", "--doc_stride 24 must be smaller")
    return Bad(argv, 2, says, ctx.tmp / "out")


@case("run_qa", "malformed", "missing-answers")
def _(ctx):
    argv = qa(ctx, train=put(5, {"id": "x", "question": "q ?", "context": "the gene"}))
    return Bad(argv, 2, ("data/train.json:5: field 'answers': missing",), ctx.tmp / "out")


@case("run_qa", "malformed", "answer-start-not-integers")
def _(ctx):
    record = {"id": "x", "question": "q ?", "context": "the gene", "answers": {"text": ["gene"], "answer_start": ["4"]}}
    argv = qa(ctx, test=put(1, record))
    return Bad(
        argv, 2, ("data/test.json:1: field 'answers.answer_start': expected a list of integers",), ctx.tmp / "out"
    )


@case("run_qa", "malformed", "empty-context")
def _(ctx):
    record = {"id": "x", "question": "q ?", "context": "  ", "answers": {"text": [], "answer_start": []}}
    argv = qa(ctx, dev=put(3, record))
    return Bad(argv, 2, ("data/dev.json:3: field 'context': empty",), ctx.tmp / "out")


@case("run_qa", "model", "tokenizer-lost-its-vocabulary")
def _(ctx):
    model = ctx.model_copy()
    (model / "vocab.txt").unlink()
    (model / "tokenizer.json").unlink()
    argv = finetune("run_qa", ctx, splits(ctx, qa_record), model=model)
    return Bad(argv, 2, (f"the tokenizer of {model} has only its 5 special tokens",), ctx.tmp / "out")


@case("run_qa", "outputs", "read-only-output-dir")
def _(ctx):
    out = READ_ONLY / "kernel" / "linkbert-qa"
    argv = finetune("run_qa", ctx, splits(ctx, qa_record), out=out)
    return Bad(argv, 1, (f"{out}: cannot write in {READ_ONLY / 'kernel'}: permission denied",), out)


# ================================================================ run_multiple_choice


def mc(ctx, *extra, **edits) -> list[str]:
    return finetune("run_multiple_choice", ctx, splits(ctx, mc_record, **edits), *extra)


def mc_with(**fields) -> dict:
    return {**mc_record(random.Random(3), 999), **fields}


@case("run_multiple_choice", "labels", "label-out-of-range")
def _(ctx):
    argv = mc(ctx, dev=put(2, mc_with(label=4)))
    return Bad(argv, 2, ("data/dev.json:2: field 'label': expected the index of the right option, 0..3, got 4",))


@case("run_multiple_choice", "labels", "label-negative")
def _(ctx):
    argv = mc(ctx, train=put(6, mc_with(label=-1)))
    return Bad(argv, 2, ("data/train.json:6: field 'label'", "got -1"), ctx.tmp / "out")


@case("run_multiple_choice", "labels", "label-a-letter")
def _(ctx):
    argv = mc(ctx, test=put(1, mc_with(label="B")))
    return Bad(argv, 2, ("data/test.json:1: field 'label': expected the index of the right option", "got str"))


@case("run_multiple_choice", "malformed", "missing-option")
def _(ctx):
    record = mc_with()
    del record["ending2"]
    argv = mc(ctx, train=put(3, record))
    return Bad(argv, 2, ("data/train.json:3: field 'ending2': missing",), ctx.tmp / "out")


@case("run_multiple_choice", "malformed", "empty-train-file")
def _(ctx):
    return Bad(mc(ctx, train=[]), 2, ("data/train.json: no examples: the file is empty",), ctx.tmp / "out")


@case("run_multiple_choice", "flags", "max-seq-length-negative")
def _(ctx):
    return Bad(mc(ctx, "--max_seq_length", "-1"), 2, ("--max_seq_length -1: expected a positive number",))


@case("run_multiple_choice", "flags", "missing-output-dir")
def _(ctx):
    return Bad(without(mc(ctx), "--output_dir"), 2, ("--output_dir is required",), ctx.tmp / "out")


@case("run_multiple_choice", "model", "resume-from-missing-checkpoint")
def _(ctx):
    argv = mc(ctx, "--resume_from_checkpoint", "gone/checkpoint-1")
    return Bad(argv, 2, ("--resume_from_checkpoint gone/checkpoint-1: checkpoint directory not found",))


@case("run_multiple_choice", "outputs", "output-dir-under-a-file")
def _(ctx):
    (ctx.tmp / "file").write_text("")
    out = ctx.tmp / "file" / "deeper" / "out"
    argv = finetune("run_multiple_choice", ctx, splits(ctx, mc_record), out=out)
    return Bad(argv, 1, (f"{out}: is not a folder (its parent {ctx.tmp / 'file'} is a file)",))


# ================================================================ run_pretrain


def corpus_documents(count: int = 12, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "id": f"d{i}",
            "title": f"doc {i}",
            "text": " ".join(" ".join(words(rng, 6)) + "." for _ in range(3)),
            "links": [f"d{(i + 1) % count}", f"d{(i + 5) % count}"],
        }
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def pairs(tiny_model, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    corpus = write_jsonl(root / "corpus.jsonl", corpus_documents())
    argv = flags(
        corpus=corpus, tokenizer=tiny_model, output_dir=root / "pairs", max_seq_length="32", seed="0", num_shards="2"
    )
    assert ENTRY["build_pairs"](argv) == 0
    return root / "pairs"


def pretrain(ctx, *extra, model: Path | None = None, train_dir: Path | None = None) -> list[str]:
    argv = flags(
        model_name_or_path=model or ctx.model,
        train_dir=train_dir or ctx.pairs,
        output_dir=ctx.tmp / "out",
        max_steps="2",
        per_device_train_batch_size="2",
        logging_steps="1",
        save_steps="100",
    )
    return [*argv, *extra]


def pairs_copy(ctx) -> Path:
    copy = ctx.tmp / "pairs"
    shutil.copytree(ctx.pairs, copy)
    return copy


@case("run_pretrain", "malformed", "train-dir-without-manifest")
def _(ctx):
    train_dir = pairs_copy(ctx)
    (train_dir / "manifest.json").unlink()
    argv = pretrain(ctx, train_dir=train_dir)
    return Bad(argv, 2, (f"{train_dir / 'manifest.json'}: no manifest",), ctx.tmp / "out")


@case("run_pretrain", "malformed", "manifest-invalid-json")
def _(ctx):
    train_dir = pairs_copy(ctx)
    manifest = train_dir / "manifest.json"
    lines = manifest.read_text().splitlines()
    lines[2] = '  "corpus": unquoted,'
    manifest.write_text("\n".join(lines))
    argv = pretrain(ctx, train_dir=train_dir)
    return Bad(argv, 2, (f"{manifest}:3: not valid JSON",), ctx.tmp / "out")


@case("run_pretrain", "malformed", "shard-missing")
def _(ctx):
    train_dir = pairs_copy(ctx)
    (train_dir / "pairs-00001-of-00002.arrow").unlink()
    argv = pretrain(ctx, train_dir=train_dir)
    says = (f"{train_dir / 'manifest.json'}: field 'shards': shard pairs-00001-of-00002.arrow listed but missing",)
    return Bad(argv, 2, says, ctx.tmp / "out")


@case("run_pretrain", "malformed", "manifest-of-another-format-into-existing-output-dir")
def _(ctx):
    train_dir = pairs_copy(ctx)
    manifest = train_dir / "manifest.json"
    manifest.write_text(json.dumps(dict(json.loads(manifest.read_text()), format="pairs/0")))
    (ctx.tmp / "out").mkdir()
    (ctx.tmp / "out" / "pretrain_log.jsonl").write_text('{"step": 5}\n')
    argv = pretrain(ctx, train_dir=train_dir)
    return Bad(argv, 2, (f"{manifest}: field 'format': expected format 'linkbert-pretrain-pairs/1', got 'pairs/0'",))


@case("run_pretrain", "flags", "max-steps-0")
def _(ctx):
    return Bad(pretrain(ctx, "--max_steps", "0"), 2, ("--max_steps must be at least 1, got 0",), ctx.tmp / "out")


@case("run_pretrain", "flags", "save-steps-negative")
def _(ctx):
    return Bad(pretrain(ctx, "--save_steps", "-1"), 2, ("--save_steps must be at least 1, got -1",), ctx.tmp / "out")


@case("run_pretrain", "flags", "abbreviated-max-step")
def _(ctx):
    argv = pretrain(ctx, "--max_step", "5")
    return Bad(argv, 2, ("not used by the HfArgumentParser", "'--max_step', '5'"), ctx.tmp / "out")


@case("run_pretrain", "flags", "missing-output-dir")
def _(ctx):
    argv = without(pretrain(ctx), "--output_dir")
    return Bad(argv, 2, ("the following arguments are required: --output_dir",), ctx.tmp / "out")


@case("run_pretrain", "model", "resume-from-missing-checkpoint")
def _(ctx):
    missing = ctx.tmp / "old" / "checkpoint-9"
    argv = pretrain(ctx, "--resume_from_checkpoint", str(missing))
    return Bad(argv, 2, (f"--resume_from_checkpoint {missing}: checkpoint directory not found",), ctx.tmp / "out")


@case("run_pretrain", "model", "model-folder-missing")
def _(ctx):
    missing = ctx.tmp / "bert-base-cased"
    return Bad(pretrain(ctx, model=missing), 2, (f"checkpoint directory not found: {missing}",), ctx.tmp / "out")


@case("run_pretrain", "model", "tokenizer-lost-its-vocabulary")
def _(ctx):
    model = ctx.model_copy()
    (model / "vocab.txt").unlink()
    (model / "tokenizer.json").unlink()
    argv = pretrain(ctx, model=model)
    return Bad(argv, 2, (f"the tokenizer of {model} has only its 5 special tokens",), ctx.tmp / "out")


@case("run_pretrain", "model", "truncated-safetensors")
def _(ctx):
    model = ctx.model_copy()
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    argv = pretrain(ctx, model=model)
    return Bad(
        argv,
        2,
        (f"could not load the BERT checkpoint from directory {model}: Error while deserializing",),
        ctx.tmp / "out",
    )


@case("run_pretrain", "outputs", "output-dir-is-a-file")
def _(ctx):
    (ctx.tmp / "out").write_text("")
    return Bad(pretrain(ctx), 1, (f"{ctx.tmp / 'out'}: is not a folder",))


@case("run_pretrain", "outputs", "read-only-output-dir")
def _(ctx):
    argv = pretrain(ctx)
    out = READ_ONLY / "linkbert-pretrain"
    argv[argv.index("--output_dir") + 1] = str(out)
    return Bad(argv, 1, (f"{out}: cannot write in {READ_ONLY}: permission denied",), out)


# ================================================================ build_pairs


def build(ctx, *extra, corpus_items=None, tokenizer: Path | None = None) -> list[str]:
    corpus = write_lines(ctx.tmp / "corpus.jsonl", corpus_documents() if corpus_items is None else corpus_items)
    argv = flags(corpus=corpus, tokenizer=tokenizer or ctx.model, output_dir=ctx.tmp / "out", max_seq_length="32")
    return [*argv, *extra]


def corpus_with(line: int, item, replace: bool = False) -> list:
    return put(line, item, replace)(corpus_documents())


@case("build_pairs", "malformed", "invalid-json-line-2")
def _(ctx):
    argv = build(ctx, corpus_items=corpus_with(2, '{"id": "x", "text": "a b" "links": []}'))
    return Bad(argv, 2, ("corpus.jsonl:2: not valid JSON",), ctx.tmp / "out")


@case("build_pairs", "malformed", "duplicate-document-id")
def _(ctx):
    argv = build(ctx, corpus_items=corpus_with(7, {"id": "d2", "text": "again"}))
    return Bad(argv, 2, ("corpus.jsonl:7: field 'id': duplicate document id 'd2' (first on line 3)",), ctx.tmp / "out")


@case("build_pairs", "malformed", "missing-text")
def _(ctx):
    argv = build(ctx, corpus_items=corpus_with(4, {"id": "x", "links": []}))
    return Bad(argv, 2, ("corpus.jsonl:4: field 'text': expected the document text as a string, got missing",))


@case("build_pairs", "malformed", "links-not-a-list")
def _(ctx):
    argv = build(ctx, corpus_items=corpus_with(1, {"id": "x", "text": "a b.", "links": "d1"}))
    return Bad(argv, 2, ("corpus.jsonl:1: field 'links': expected a list of document ids, got str",), ctx.tmp / "out")


@case("build_pairs", "malformed", "not-utf8-line-3")
def _(ctx):
    argv = build(ctx, corpus_items=corpus_with(3, not_utf8('{"id": "x", "text": "caf?"}')))
    return Bad(argv, 2, ("corpus.jsonl:3: not UTF-8 text (byte 0xff at column 25)",), ctx.tmp / "out")


@case("build_pairs", "malformed", "empty-corpus")
def _(ctx):
    return Bad(build(ctx, corpus_items=[]), 2, ("corpus.jsonl: no documents: the file is empty",), ctx.tmp / "out")


@case("build_pairs", "malformed", "missing-corpus")
def _(ctx):
    argv = build(ctx)
    (ctx.tmp / "corpus.jsonl").unlink()
    return Bad(argv, 2, ("corpus.jsonl: file not found",), ctx.tmp / "out")


@case("build_pairs", "flags", "max-seq-length-0")
def _(ctx):
    return Bad(build(ctx, "--max_seq_length", "0"), 2, ("--max_seq_length 0: expected at least 5",), ctx.tmp / "out")


@case("build_pairs", "flags", "num-shards-0")
def _(ctx):
    return Bad(build(ctx, "--num_shards", "0"), 2, ("--num_shards 0: expected at least 1",), ctx.tmp / "out")


@case("build_pairs", "flags", "abbreviated-num-shard")
def _(ctx):
    return Bad(build(ctx, "--num_shard", "2"), 2, ("unrecognized arguments: --num_shard 2",), ctx.tmp / "out")


@case("build_pairs", "flags", "missing-output-dir")
def _(ctx):
    argv = without(build(ctx), "--output_dir")
    return Bad(argv, 2, ("the following arguments are required: --output_dir",), ctx.tmp / "out")


@case("build_pairs", "model", "tokenizer-lost-its-vocabulary")
def _(ctx):
    model = ctx.model_copy()
    (model / "vocab.txt").unlink()
    (model / "tokenizer.json").unlink()
    return Bad(
        build(ctx, tokenizer=model),
        2,
        (f"the tokenizer of {model} has only its 5 special tokens",),
        ctx.tmp / "out",
    )


@case("build_pairs", "model", "tokenizer-folder-missing")
def _(ctx):
    missing = ctx.tmp / "no-such-model"
    return Bad(build(ctx, tokenizer=missing), 2, (f"checkpoint directory not found: {missing}",), ctx.tmp / "out")


@case("build_pairs", "outputs", "output-dir-is-a-file")
def _(ctx):
    (ctx.tmp / "out").write_text("")
    return Bad(
        build(ctx), 1, (f"{ctx.tmp / 'out'}: a file stands where a folder is needed (to hold {ctx.tmp / 'out'})",)
    )


@case("build_pairs", "outputs", "read-only-output-dir")
def _(ctx):
    argv = build(ctx)
    out = READ_ONLY / "linkbert-pairs"
    argv[argv.index("--output_dir") + 1] = str(out)
    return Bad(argv, 1, (f"{out}: operation not permitted",), out)


# ================================================================ convert_wikipedia


def wiki_article(i: int) -> dict:
    return {"id": str(i), "url": "u", "title": f"Page {i}", "text": f'Page {i} links <a href="page%20{i + 1}">on</a>.'}


def wikipedia(ctx, items=None, *extra, output: Path | None = None) -> list[str]:
    source = write_lines(
        ctx.tmp / "wiki" / "AA" / "wiki_00", [wiki_article(i) for i in range(5)] if items is None else items
    )
    return ["--input", str(source.parents[1]), "--output", str(output or ctx.tmp / "wiki.jsonl"), *extra]


def articles_with(line: int, item, replace: bool = False) -> list:
    return put(line, item, replace)([wiki_article(i) for i in range(5)])


@case("convert_wikipedia", "malformed", "invalid-json-line-2")
def _(ctx):
    argv = wikipedia(ctx, articles_with(2, '{"id": "9", "title": "Nine", "text": "x"'))
    return Bad(argv, 2, ("wiki/AA/wiki_00:2: not valid JSON",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "malformed", "missing-title")
def _(ctx):
    argv = wikipedia(ctx, articles_with(4, {"id": "9", "text": "x"}))
    return Bad(argv, 2, ("wiki/AA/wiki_00:4: field 'title': expected a string",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "malformed", "duplicate-article-id")
def _(ctx):
    argv = wikipedia(ctx, articles_with(5, dict(wiki_article(1), title="Other")))
    return Bad(argv, 2, ("wiki/AA/wiki_00:5: field 'id': duplicate article id '1'",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "malformed", "doc-never-closed")
def _(ctx):
    items = ['<doc id="1" url="u" title="One">', "One", "", "text", "</doc>", '<doc id="2" url="u" title="Two">', "Two"]
    return Bad(wikipedia(ctx, items), 2, ("wiki/AA/wiki_00:6: <doc> never closed",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "malformed", "not-utf8-line-3")
def _(ctx):
    argv = wikipedia(ctx, articles_with(3, not_utf8('{"id": "9", "url": "u", "title": "Caf?", "text": "x"}')))
    return Bad(argv, 2, ("wiki/AA/wiki_00:3: not UTF-8 text",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "malformed", "input-not-found")
def _(ctx):
    missing = ctx.tmp / "dump"
    argv = ["--input", str(missing), "--output", str(ctx.tmp / "wiki.jsonl")]
    return Bad(argv, 2, (f"{missing}: input not found",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "malformed", "redirect-line-with-three-fields")
def _(ctx):
    redirects = write_lines(ctx.tmp / "redirects.tsv", ["Old\tPage 1", "Older\tPage 2\textra"])
    argv = wikipedia(ctx, None, "--redirects", str(redirects))
    return Bad(argv, 2, ("redirects.tsv:2: expected 'source<TAB>target', got 3 fields",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "flags", "abbreviated-redirect")
def _(ctx):
    argv = wikipedia(ctx, None, "--redirect", "r.tsv")
    return Bad(argv, 2, ("unrecognized arguments: --redirect r.tsv",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "flags", "missing-output")
def _(ctx):
    argv = without(wikipedia(ctx), "--output")
    return Bad(argv, 2, ("the following arguments are required: --output",), ctx.tmp / "wiki.jsonl")


@case("convert_wikipedia", "outputs", "output-is-a-folder")
def _(ctx):
    (ctx.tmp / "corpus").mkdir()
    (ctx.tmp / "corpus" / "keep.txt").write_text("keep")
    argv = wikipedia(ctx, output=ctx.tmp / "corpus")
    return Bad(argv, 1, (f"{ctx.tmp / 'corpus'}: is a folder; expected the path of a file to write",))


@case("convert_wikipedia", "outputs", "output-under-a-file")
def _(ctx):
    (ctx.tmp / "data").write_text("")
    argv = wikipedia(ctx, output=ctx.tmp / "data" / "wiki.jsonl")
    return Bad(argv, 1, (f"{ctx.tmp / 'data'}: a file stands where a folder is needed",))


@case("convert_wikipedia", "outputs", "read-only-output")
def _(ctx):
    output = READ_ONLY / "wiki.jsonl"
    return Bad(wikipedia(ctx, output=output), 1, (f"{output}: permission denied",), output)


# ================================================================ convert_pubmed


def pubmed_record(i: int) -> dict:
    return {
        "pmid": str(1000 + i),
        "title": f"T{i}",
        "abstract": f"Abstract {i}.",
        "cited_pmids": [str(1000 + (i + 1) % 5)],
    }


def pubmed(ctx, items=None, output: Path | None = None) -> list[str]:
    source = write_lines(ctx.tmp / "pubmed.jsonl", [pubmed_record(i) for i in range(5)] if items is None else items)
    return ["--input", str(source), "--output", str(output or ctx.tmp / "corpus.jsonl")]


def pubmed_with(line: int, item, replace: bool = False) -> list:
    return put(line, item, replace)([pubmed_record(i) for i in range(5)])


@case("convert_pubmed", "malformed", "pmid-not-digits")
def _(ctx):
    argv = pubmed(ctx, pubmed_with(3, {"pmid": "PMC7", "abstract": "a"}))
    return Bad(
        argv, 2, ("pubmed.jsonl:3: field 'pmid': expected a PMID (digits), got 'PMC7'",), ctx.tmp / "corpus.jsonl"
    )


@case("convert_pubmed", "malformed", "abstract-wrong-type")
def _(ctx):
    argv = pubmed(ctx, pubmed_with(2, {"pmid": "7", "abstract": ["a", "b"]}))
    return Bad(argv, 2, ("pubmed.jsonl:2: field 'abstract': expected a string, got list",), ctx.tmp / "corpus.jsonl")


@case("convert_pubmed", "malformed", "citations-wrong-type")
def _(ctx):
    argv = pubmed(ctx, pubmed_with(6, {"pmid": "7", "abstract": "a", "cited_pmids": {"1001": True}}))
    return Bad(argv, 2, ("pubmed.jsonl:6: field 'cited_pmids': expected a list of PMIDs, got dict",))


@case("convert_pubmed", "malformed", "line-not-an-object")
def _(ctx):
    argv = pubmed(ctx, pubmed_with(4, '"1003"'))
    return Bad(argv, 2, ("pubmed.jsonl:4: expected a JSON object, got str",), ctx.tmp / "corpus.jsonl")


@case("convert_pubmed", "malformed", "not-utf8-line-5")
def _(ctx):
    argv = pubmed(ctx, pubmed_with(5, not_utf8('{"pmid": "8", "abstract": "caf?"}')))
    return Bad(argv, 2, ("pubmed.jsonl:5: not UTF-8 text (byte 0xff at column 31)",), ctx.tmp / "corpus.jsonl")


@case("convert_pubmed", "flags", "missing-input")
def _(ctx):
    argv = without(pubmed(ctx), "--input")
    return Bad(argv, 2, ("the following arguments are required: --input",), ctx.tmp / "corpus.jsonl")


@case("convert_pubmed", "outputs", "output-is-a-folder")
def _(ctx):
    (ctx.tmp / "corpus").mkdir()
    argv = pubmed(ctx, output=ctx.tmp / "corpus")
    return Bad(argv, 1, (f"{ctx.tmp / 'corpus'}: is a folder",))


# ================================================================ preprocess_mrqa


MRQA_HEADER = {"header": {"dataset": "SQuAD", "split": "dev"}}


def mrqa_context(i: int) -> dict:
    context = f"Context number {i} is here."
    qas = [
        {
            "id": f"c{i}",
            "question": "Which number?",
            "detected_answers": [{"text": str(i), "char_spans": [[15, 14 + len(str(i))]]}],
        }
    ]
    return {"context": context, "qas": qas}


def mrqa(ctx, train=None, dev=None, gz=False, *extra) -> list[str]:
    """Raw MRQA files (4 contexts each, after the header), the in-house split file and the argv."""
    raw = ctx.tmp / "raw"
    suffix = ".jsonl.gz" if gz else ".jsonl"
    for part, items in (("train", train), ("dev", dev)):
        items = [MRQA_HEADER, *(mrqa_context(i) for i in range(4))] if items is None else items
        write_lines(raw / part / f"SQuAD{suffix}", items, gz=gz)
    (ctx.tmp / "splits").mkdir()
    (ctx.tmp / "splits" / "inhouse_split_squad.json").write_text(json.dumps({"dev": [0, 2], "test": [1, 3]}))
    argv = flags(raw_dir=raw, splits_dir=ctx.tmp / "splits", output_dir=ctx.tmp / "out")
    return [*argv, "--datasets", "squad", *extra]


def mrqa_lines(line: int, item) -> list:
    """The header and four contexts, with `item` replacing line `line` (the header is line 1)."""
    return put(line, item, replace=True)([MRQA_HEADER, *(mrqa_context(i) for i in range(4))])


BAD_CONTEXT = not_utf8('{"context": "Caf? number", "qas": []}')


@case("preprocess_mrqa", "malformed", "not-utf8-line-4")
def _(ctx):
    argv = mrqa(ctx, train=mrqa_lines(4, BAD_CONTEXT))
    return Bad(argv, 1, ("raw/train/SQuAD.jsonl:4: not UTF-8 text (byte 0xff at column 17)",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "not-utf8-line-4-gzipped")
def _(ctx):
    argv = mrqa(ctx, dev=mrqa_lines(4, BAD_CONTEXT), gz=True)
    return Bad(argv, 1, ("raw/dev/SQuAD.jsonl.gz:4: not UTF-8 text (byte 0xff at column 17)",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "invalid-json-line-3")
def _(ctx):
    argv = mrqa(ctx, train=mrqa_lines(3, '{"context": "x", "qas": ['))
    return Bad(argv, 1, ("raw/train/SQuAD.jsonl:3: not valid JSON",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "line-not-an-object")
def _(ctx):
    argv = mrqa(ctx, dev=mrqa_lines(2, "[1, 2]"))
    return Bad(argv, 1, ("raw/dev/SQuAD.jsonl:2: expected a JSON object, got list",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "missing-qas")
def _(ctx):
    argv = mrqa(ctx, train=mrqa_lines(5, {"context": "x"}))
    return Bad(argv, 1, ("raw/train/SQuAD.jsonl:5: field 'qas': missing",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "question-wrong-type")
def _(ctx):
    context = mrqa_context(9)
    context["qas"][0]["question"] = ["Which", "number?"]
    argv = mrqa(ctx, dev=mrqa_lines(3, context))
    return Bad(argv, 1, ("raw/dev/SQuAD.jsonl:3: field 'qas[0].question': expected str, got list",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "empty-file")
def _(ctx):
    argv = mrqa(ctx, train=[])
    return Bad(argv, 1, ("raw/train/SQuAD.jsonl:1: field 'header': empty file",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "header-only-train-file")
def _(ctx):
    argv = mrqa(ctx, train=[MRQA_HEADER])
    return Bad(argv, 1, ("raw/train/SQuAD.jsonl: no examples",), ctx.tmp / "out")


@case("preprocess_mrqa", "malformed", "missing-split-file")
def _(ctx):
    argv = mrqa(ctx)
    (ctx.tmp / "splits" / "inhouse_split_squad.json").unlink()
    return Bad(argv, 1, ("splits/inhouse_split_squad.json: file not found",), ctx.tmp / "out")


@case("preprocess_mrqa", "flags", "unknown-dataset")
def _(ctx):
    argv = mrqa(ctx)
    argv[argv.index("squad")] = "quac"
    return Bad(argv, 2, ("argument --datasets: invalid choice: 'quac'",), ctx.tmp / "out")


@case("preprocess_mrqa", "outputs", "output-dir-is-a-file")
def _(ctx):
    (ctx.tmp / "out").write_text("")
    return Bad(mrqa(ctx), 1, (f"{ctx.tmp / 'out'}: a file stands where a folder is needed",))


# ================================================================ preprocess_blurb


def blurb(ctx, folder: str, task: str, texts: dict[str, str | bytes], output_dir: Path | None = None) -> list[str]:
    """Raw BLURB files of one task (the same good text for every split not in `texts`)."""
    raw = ctx.tmp / "data_generation"
    for split in ("train", "dev", "test"):
        text = texts.get(split, texts.get("all", ""))
        path = raw / folder / f"{split}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return flags(raw_dir=raw, output_dir=output_dir or ctx.tmp / "out", tasks=task)


CHEMPROT = "c1\tThe @CHEMICAL$ inhibits @GENE$.\tCPR:4\nc2\tNo relation here.\tfalse\n"
NER_TSV = "The\tO\nBRCA1\tB\ngene\tI\n\nIt\tO\nworks\tO\n"


@case("preprocess_blurb", "malformed", "not-utf8-line-2")
def _(ctx):
    argv = blurb(ctx, "NCBI-disease", "NCBI-disease", {"all": NER_TSV, "dev": b"The\tO\nCaf\xff\tB\n"})
    return Bad(argv, 1, ("NCBI-disease/dev.tsv:2: not UTF-8 text (byte 0xff at column 4)",), ctx.tmp / "out")


@case("preprocess_blurb", "malformed", "missing-column")
def _(ctx):
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT, "test": CHEMPROT + "c3\tonly two columns\n"})
    return Bad(argv, 1, ("chemprot/test.tsv:3: field 'label': missing; expected 3 columns",), ctx.tmp / "out")


@case("preprocess_blurb", "malformed", "empty-file")
def _(ctx):
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT, "train": ""})
    return Bad(argv, 1, ("chemprot/train.tsv: no examples",), ctx.tmp / "out")


@case("preprocess_blurb", "malformed", "missing-file")
def _(ctx):
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT})
    (ctx.tmp / "data_generation" / "chemprot" / "dev.tsv").unlink()
    return Bad(argv, 1, ("chemprot/dev.tsv: file not found",), ctx.tmp / "out")


@case("preprocess_blurb", "labels", "biosses-score-nan")
def _(ctx):
    good = "index\tsentence1\tsentence2\tscore\ns1\tA b.\tC d.\t2.8\n"
    argv = blurb(ctx, "BIOSSES", "BIOSSES", {"all": good, "dev": good + "s2\tE f.\tG h.\tnan\n"})
    return Bad(argv, 1, ("BIOSSES/dev.tsv:3: field 'score': expected a number, got 'nan'",), ctx.tmp / "out")


@case("preprocess_blurb", "labels", "hoc-label-item-malformed")
def _(ctx):
    good = "labels\tsentence\tindex\n" + ",".join(f"{k}_0" for k in range(10)) + "\tOne.\t1_1\n"
    bad = good + ",".join(f"{k}_0" for k in range(9)) + ",9_2\tTwo.\t2_1\n"
    argv = blurb(ctx, "HoC", "HoC", {"all": good, "train": bad})
    return Bad(argv, 1, ("HoC/train.tsv:3: field 'labels': malformed item '9_2'",), ctx.tmp / "out")


@case("preprocess_blurb", "flags", "unknown-task")
def _(ctx):
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT})
    argv[-1] = "mednli"
    return Bad(argv, 1, ("unknown BLURB task(s) mednli",), ctx.tmp / "out")


@case("preprocess_blurb", "flags", "abbreviated-task")
def _(ctx):
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT})
    argv[-2] = "--task"
    return Bad(argv, 2, ("unrecognized arguments: --task chemprot",), ctx.tmp / "out")


@case("preprocess_blurb", "outputs", "output-dir-under-a-file")
def _(ctx):
    (ctx.tmp / "data").write_text("")
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT}, output_dir=ctx.tmp / "data")
    return Bad(argv, 1, (f"{ctx.tmp / 'data'}: a file stands where a folder is needed",))


@case("preprocess_blurb", "outputs", "read-only-output-dir")
def _(ctx):
    out = READ_ONLY / "blurb"
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT}, output_dir=out)
    return Bad(argv, 1, (f"{out}: operation not permitted",), out)


# ================================================================ preprocess_medqa


MEDQA_FOLDER = Path("data_clean", "questions", "US", "4_options")


def medqa_item(i: int) -> dict:
    options = {letter: f"option {letter}{i}" for letter in "ABCD"}
    return {"question": f"Question {i}?", "answer": options["B"], "options": options, "answer_idx": "B"}


def medqa(ctx, **bad) -> list[str]:
    raw = ctx.tmp / "medqa"
    for split in ("train", "dev", "test"):
        items = bad.get(split, [medqa_item(i) for i in range(3)])
        write_lines(raw / MEDQA_FOLDER / f"phrases_no_exclude_{split}.jsonl", items)
    return ["--raw_dir", str(raw), "--output_dir", str(ctx.tmp / "out")]


def medqa_with(line: int, item) -> list:
    return put(line, item, replace=True)([medqa_item(i) for i in range(3)])


@case("preprocess_medqa", "labels", "answer-letter-e")
def _(ctx):
    argv = medqa(ctx, dev=medqa_with(2, dict(medqa_item(1), answer_idx="E")))
    says = ("phrases_no_exclude_dev.jsonl:2: field 'answer_idx': expected one of A, B, C, D, got 'E'",)
    return Bad(argv, 1, says, ctx.tmp / "out")


@case("preprocess_medqa", "malformed", "missing-option-d")
def _(ctx):
    item = medqa_item(1)
    del item["options"]["D"]
    argv = medqa(ctx, test=medqa_with(3, item))
    return Bad(argv, 1, ("phrases_no_exclude_test.jsonl:3: field 'options.D': missing",), ctx.tmp / "out")


@case("preprocess_medqa", "malformed", "question-wrong-type")
def _(ctx):
    argv = medqa(ctx, train=medqa_with(1, dict(medqa_item(0), question=42)))
    return Bad(argv, 1, ("phrases_no_exclude_train.jsonl:1: field 'question': expected str, got int",), ctx.tmp / "out")


@case("preprocess_medqa", "malformed", "invalid-json-line-2")
def _(ctx):
    argv = medqa(ctx, train=medqa_with(2, '{"question": "Q?", "options": {'))
    return Bad(argv, 1, ("phrases_no_exclude_train.jsonl:2: not valid JSON",), ctx.tmp / "out")


@case("preprocess_medqa", "malformed", "not-utf8-line-3")
def _(ctx):
    argv = medqa(ctx, dev=medqa_with(3, not_utf8('{"question": "Caf??"}')))
    return Bad(argv, 1, ("phrases_no_exclude_dev.jsonl:3: not UTF-8 text (byte 0xff at column 18)",), ctx.tmp / "out")


@case("preprocess_medqa", "malformed", "empty-file")
def _(ctx):
    return Bad(medqa(ctx, test=[]), 1, ("phrases_no_exclude_test.jsonl: no examples",), ctx.tmp / "out")


@case("preprocess_medqa", "outputs", "output-dir-is-a-file")
def _(ctx):
    (ctx.tmp / "out").write_text("")
    return Bad(medqa(ctx), 1, (f"{ctx.tmp / 'out'}: a file stands where a folder is needed",))


# ================================================================ preprocess_mmlu


MMLU_CSV = (
    'Which organ makes insulin?,Liver,Pancreas,Kidney,Spleen,B\n"Two\nlines?",a,"b, c",d,e,D\nPick A.,w,x,y,z,A\n'
)


def mmlu(ctx, **texts) -> list[str]:
    raw = ctx.tmp / "mmlu"
    for split in ("dev", "val", "test"):
        path = raw / "data" / split / f"professional_medicine_{split}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = texts.get(split, MMLU_CSV)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return ["--raw_dir", str(raw), "--output_dir", str(ctx.tmp / "out")]


@case("preprocess_mmlu", "labels", "answer-letter-f")
def _(ctx):
    argv = mmlu(ctx, val=MMLU_CSV + "Q?,a,b,c,d,F\n")
    says = ("professional_medicine_val.csv:5: field 'answer': expected one of A, B, C, D, got 'F'",)
    return Bad(argv, 1, says, ctx.tmp / "out")


@case("preprocess_mmlu", "malformed", "short-row")
def _(ctx):
    argv = mmlu(ctx, test=MMLU_CSV + "Q?,a,b,c,D\n")
    return Bad(
        argv, 1, ("professional_medicine_test.csv:5: field 'answer': missing; expected 6 columns",), ctx.tmp / "out"
    )


@case("preprocess_mmlu", "malformed", "not-utf8-line-4")
def _(ctx):
    argv = mmlu(ctx, dev=MMLU_CSV.encode() + b"Caf\xff?,a,b,c,d,A\n")
    return Bad(argv, 1, ("professional_medicine_dev.csv:5: not UTF-8 text (byte 0xff at column 4)",), ctx.tmp / "out")


@case("preprocess_mmlu", "malformed", "empty-file")
def _(ctx):
    return Bad(mmlu(ctx, val=""), 1, ("professional_medicine_val.csv: no examples",), ctx.tmp / "out")


@case("preprocess_mmlu", "malformed", "missing-file")
def _(ctx):
    argv = mmlu(ctx)
    (ctx.tmp / "mmlu" / "data" / "test" / "professional_medicine_test.csv").unlink()
    return Bad(argv, 1, ("professional_medicine_test.csv: file not found",), ctx.tmp / "out")


@case("preprocess_mmlu", "flags", "abbreviated-subject")
def _(ctx):
    argv = [*mmlu(ctx), "--subject", "anatomy"]
    return Bad(argv, 2, ("unrecognized arguments: --subject anatomy",), ctx.tmp / "out")


@case("preprocess_mmlu", "outputs", "read-only-output-dir")
def _(ctx):
    argv = mmlu(ctx)
    out = READ_ONLY / "mc"
    argv[-1] = str(out)
    return Bad(argv, 1, (f"{out}: operation not permitted",), out)


# ================================================================ make_tables


def runs_tree(ctx) -> Path:
    runs = ctx.tmp / "runs"
    for task, key in (("chemprot_hf", "test_F1"), ("medqa_usmle_hf", "test_accuracy")):
        write_jsonl(runs / task / "BioLinkBERT-base" / "predict_results.json", [{key: 0.5}])
    return runs


def tables(ctx, runs: Path, out: Path, *extra) -> list[str]:
    return [*flags(runs=runs, output_dir=out, no_plots=True), *extra]


@case("make_tables", "malformed", "runs-not-a-folder")
def _(ctx):
    argv = tables(ctx, ctx.tmp / "runs", ctx.tmp / "tables")
    return Bad(argv, 1, (f"{ctx.tmp / 'runs'}: not a directory",), ctx.tmp / "tables")


@case("make_tables", "malformed", "no-finished-run")
def _(ctx):
    (ctx.tmp / "runs" / "squad_hf" / "LinkBERT-base").mkdir(parents=True)
    argv = tables(ctx, ctx.tmp / "runs", ctx.tmp / "tables")
    return Bad(argv, 1, (f"{ctx.tmp / 'runs'}: no finished run",), ctx.tmp / "tables")


@case("make_tables", "flags", "abbreviated-no-plot")
def _(ctx):
    argv = [*tables(ctx, runs_tree(ctx), ctx.tmp / "tables")[:-1], "--no_plot"]
    return Bad(argv, 2, ("unrecognized arguments: --no_plot",), ctx.tmp / "tables")


@case("make_tables", "outputs", "output-dir-is-a-file")
def _(ctx):
    (ctx.tmp / "tables").write_text("")
    argv = tables(ctx, runs_tree(ctx), ctx.tmp / "tables")
    return Bad(argv, 1, (f"{ctx.tmp / 'tables'}: a file stands where a folder is needed",))


@case("make_tables", "outputs", "output-dir-under-a-file")
def _(ctx):
    (ctx.tmp / "notes").write_text("")
    argv = tables(ctx, runs_tree(ctx), ctx.tmp / "notes" / "tables")
    says = (f"{ctx.tmp / 'notes'}: a file stands where a folder is needed (to hold {ctx.tmp / 'notes' / 'tables'})",)
    return Bad(argv, 1, says)


@case("make_tables", "outputs", "read-only-output-dir")
def _(ctx):
    out = READ_ONLY / "tables"
    return Bad(tables(ctx, runs_tree(ctx), out), 1, (f"{out}: operation not permitted",), out)


# ================================================================ recipes and the launcher


def recipe(ctx, script: str, *args: str, **env: str) -> Bad:
    """A recipe run with DRY_RUN=1 and a bad environment; the error must name the variable."""
    environment = {"DRY_RUN": "1", "OUTPUT_DIR": str(ctx.tmp / "runs"), "DATA_DIR": str(ctx.tmp / "data"), **env}
    return Bad(["bash", str(REPO / script), *args], 2, (), ctx.tmp / "runs", env=environment)


def bad_variable(ctx, script: str, args: tuple, name: str, value: str, expected: str, **env) -> Bad:
    marker = ctx.tmp / "injected"
    value = value.replace("MARKER", str(marker))
    bad = recipe(ctx, script, *args, **{name: value, **env})
    bad.says, bad.marker = (f"error: {name}=", expected), marker
    return bad


BLURB_RECIPE = ("run_examples_blurb_biolinkbert-base.sh", ("chemprot",))
MRQA_RECIPE = ("run_examples_mrqa_linkbert-large.sh", ("squad",))
MEDQA_RECIPE = ("run_examples_medqa_biolinkbert-base.sh", ("medqa",))
PRETRAIN_RECIPE = ("run_pretrain_linkbert-base.sh", ())
OTHER_RECIPES = [
    (f"run_examples_{name}.sh", (task,))
    for name, task in (
        ("blurb_biolinkbert-large", "GAD"),
        ("mrqa_linkbert-base", "hotpot"),
        ("medqa_biolinkbert-large", "mmlu"),
    )
]
POSITIVE = "expected a positive integer"
NON_NEGATIVE = "expected a non-negative integer"
RECIPE_VARIABLES = [
    # (id, recipe, variable, value, expected words, further environment)
    ("blurb-NPROC-x", BLURB_RECIPE, "NPROC", "x", POSITIVE, {}),
    ("blurb-NPROC-0", BLURB_RECIPE, "NPROC", "0", POSITIVE, {}),
    ("blurb-NPROC-negative", BLURB_RECIPE, "NPROC", "-1", POSITIVE, {}),
    ("blurb-NPROC-fraction", BLURB_RECIPE, "NPROC", "1.5", POSITIVE, {}),
    ("blurb-NPROC-command", BLURB_RECIPE, "NPROC", "$(touch MARKER)", POSITIVE, {}),
    ("blurb-NPROC-subscript", BLURB_RECIPE, "NPROC", "a[$(touch MARKER)]", POSITIVE, {}),
    ("blurb-NPROC-superscript-two", BLURB_RECIPE, "NPROC", "\u00b2", POSITIVE, {}),
    ("mrqa-NNODES-0", MRQA_RECIPE, "NNODES", "0", POSITIVE, {}),
    ("mrqa-NNODES-subscript", MRQA_RECIPE, "NNODES", "a[$(touch MARKER)]", POSITIVE, {}),
    ("mrqa-NODE_RANK-negative", MRQA_RECIPE, "NODE_RANK", "-1", NON_NEGATIVE, {"NNODES": "2"}),
    ("mrqa-NODE_RANK-not-below-NNODES", MRQA_RECIPE, "NODE_RANK", "2", "must be below NNODES=2", {"NNODES": "2"}),
    ("medqa-SAVE_STEPS-0", MEDQA_RECIPE, "SAVE_STEPS", "0", POSITIVE, {"RESUME": "1"}),
    ("medqa-SAVE_STEPS-fraction", MEDQA_RECIPE, "SAVE_STEPS", "2.5", POSITIVE, {"RESUME": "1"}),
    ("medqa-MASTER_PORT-command", MEDQA_RECIPE, "MASTER_PORT", "$(touch MARKER)", POSITIVE, {"NNODES": "2"}),
    ("medqa-MASTER_PORT-too-large", MEDQA_RECIPE, "MASTER_PORT", "70000", "expected a port number", {"NNODES": "2"}),
    ("pretrain-NPROC-command", PRETRAIN_RECIPE, "NPROC", "$(touch MARKER)", POSITIVE, {}),
    ("pretrain-NPROC-subscript", PRETRAIN_RECIPE, "NPROC", "a[$(touch MARKER)]", POSITIVE, {}),
    ("pretrain-NPROC-0", PRETRAIN_RECIPE, "NPROC", "0", POSITIVE, {}),
    ("pretrain-NNODES-fraction", PRETRAIN_RECIPE, "NNODES", "1.5", POSITIVE, {}),
    ("pretrain-NNODES-subscript", PRETRAIN_RECIPE, "NNODES", "a[$(touch MARKER)]", POSITIVE, {}),
    ("pretrain-NODE_RANK-x", PRETRAIN_RECIPE, "NODE_RANK", "x", NON_NEGATIVE, {}),
    ("pretrain-NODE_RANK-subscript", PRETRAIN_RECIPE, "NODE_RANK", "a[$(touch MARKER)]", NON_NEGATIVE, {}),
    ("pretrain-NODE_RANK-not-below-NNODES", PRETRAIN_RECIPE, "NODE_RANK", "1", "must be below NNODES=1", {}),
    ("pretrain-MASTER_PORT-negative", PRETRAIN_RECIPE, "MASTER_PORT", "-1", POSITIVE, {}),
    ("pretrain-MASTER_PORT-too-large", PRETRAIN_RECIPE, "MASTER_PORT", "65536", "expected a port number", {}),
    *((f"{script[13:-3]}-NPROC-empty", (script, args), "NPROC", "", POSITIVE, {}) for script, args in OTHER_RECIPES),
]


def _register_recipe_variable(name, script_and_args, variable, value, expected, env):
    @case(RECIPE, "environment", name)
    def _(ctx):
        script, args = script_and_args
        return bad_variable(ctx, script, args, variable, value, expected, **env)


for _row in RECIPE_VARIABLES:
    _register_recipe_variable(*_row)


def launcher(ctx, *options: str, **env: str) -> Bad:
    """python -m linkbert.tools.launch with DRY_RUN=1."""
    entry = ["--model_name_or_path", "m", "--output_dir", str(ctx.tmp / "runs" / "out")]
    argv = [sys.executable, "-m", "linkbert.tools.launch", *options, "--", *entry]
    pythonpath = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    return Bad(argv, 2, (), ctx.tmp / "runs", env={"DRY_RUN": "1", "PYTHONPATH": pythonpath, **env})


LAUNCH_OPTIONS = ("--entry", "src/seqcls/run_seqcls.py", "--log", "log.txt", "--per_device_train_batch_size", "8")


@case(RECIPE, "environment", "launcher-SAVE_STEPS-negative")
def _(ctx):
    bad = launcher(ctx, *LAUNCH_OPTIONS, SAVE_STEPS="-500", RESUME="1")
    bad.says = ("error: SAVE_STEPS='-500': expected a positive integer",)
    return bad


@case(RECIPE, "flags", "launcher-abbreviated-gradient-accumulation")
def _(ctx):
    bad = launcher(ctx, *LAUNCH_OPTIONS, "--gradient_accumulation", "2")
    bad.says = ("error: unrecognized arguments: --gradient_accumulation 2",)
    return bad


@case(RECIPE, "flags", "launcher-without-double-dash")
def _(ctx):
    bad = launcher(ctx, *LAUNCH_OPTIONS)
    bad.argv = bad.argv[: bad.argv.index("--")]
    bad.says = ("`--`",)
    return bad


# ---------------------------------------------------------------- the test


@pytest.mark.parametrize("entry,build", CASES)
def test_bad_input_is_one_error_line_and_leaves_nothing(entry, build, ctx, capsys):
    bad = build(ctx)
    capsys.readouterr()  # what building the case printed (a pretraining build) is not the run's
    before = snapshot(ctx.tmp)
    status, stderr = run_case(entry, bad, capsys)
    line = error_line(stderr)
    for fragment in bad.says:
        assert fragment in line, (fragment, line)
    assert status == bad.status, line
    if bad.output is not None:
        assert not bad.output.exists(), bad.output
    # nothing created, changed or removed: no output, no temporary file, no probe left behind
    assert snapshot(ctx.tmp) == before
    if bad.marker is not None:
        assert not bad.marker.exists(), "an environment value was evaluated by the shell"


def test_the_corpus_covers_every_entry_point_and_class():
    assert len(CASES) >= 60
    per_entry = {entry: sum(e == entry for e, _ in KINDS) for entry in {*ENTRY, RECIPE}}
    assert min(per_entry.values()) >= 3, per_entry
    entries_per_kind = {kind: {e for e, k in KINDS if k == kind} for _, kind in KINDS}
    # QA alone has ids to decode by, and only the recipes read the environment; every other class
    # of bad input is tried on several entry points
    assert entries_per_kind.pop("duplicate-ids") == {"run_qa"}
    assert entries_per_kind.pop("environment") == {RECIPE}
    assert set(entries_per_kind) == {"malformed", "labels", "flags", "model", "outputs"}
    assert all(len(entries) >= 4 for entries in entries_per_kind.values()), entries_per_kind
    # every recipe of the repository
    assert {script for _, (script, _), *_ in RECIPE_VARIABLES} == {path.name for path in REPO.glob("run_*.sh")}


# ---------------------------------------------------------------- byte-order marks are dropped

BOM = "\ufeff".encode()


def first(field: str, value):
    """A check of the converted records: the first record's `field` is `value`, BOM-free."""

    def check(records: list[dict]) -> None:
        assert records[0][field] == value, records[0]

    return check


def bom_mmlu(ctx):
    argv = mmlu(ctx, dev=BOM + MMLU_CSV.encode())
    dev = ctx.tmp / "out" / "mmlu_hf" / "professional_medicine" / "dev.json"
    return argv, dev, first("sent1", "Which organ makes insulin?")


def bom_chemprot(ctx):
    argv = blurb(ctx, "chemprot", "chemprot", {"all": CHEMPROT, "train": BOM + CHEMPROT.encode()})
    return argv, ctx.tmp / "out" / "seqcls" / "chemprot_hf" / "train.json", first("id", "c1")


def bom_bioasq(ctx):
    row = "b1\tIs A B?\tContext.\tyes\n"
    argv = blurb(ctx, "BioASQ", "bioasq", {"all": row, "test": BOM + row.encode()})
    return argv, ctx.tmp / "out" / "seqcls" / "bioasq_hf" / "test.json", first("id", "b1")


def bom_ner(ctx):
    argv = blurb(ctx, "JNLPBA", "JNLPBA", {"all": NER_TSV, "dev": BOM + NER_TSV.encode()})
    return argv, ctx.tmp / "out" / "tokcls" / "JNLPBA_hf" / "dev.json", first("tokens", ["The", "BRCA1", "gene"])


def bom_medqa(ctx):
    argv = medqa(ctx, train=[BOM + json.dumps(medqa_item(0)).encode(), medqa_item(1)])
    return argv, ctx.tmp / "out" / "medqa_usmle_hf" / "train.json", first("sent1", "Question 0?")


def bom_wikipedia(ctx):
    argv = wikipedia(ctx)
    source = ctx.tmp / "wiki" / "AA" / "wiki_00"
    source.write_bytes(BOM + source.read_bytes())
    return argv, ctx.tmp / "wiki.jsonl", first("id", "0")


def bom_redirects(ctx):
    redirects = ctx.tmp / "redirects.tsv"
    redirects.write_bytes(BOM + b"Old page\tPage 3\n")
    redirected = {"id": "9", "url": "u", "title": "Nine", "text": '<a href="Old_page">x</a>'}
    argv = wikipedia(ctx, [redirected, *(wiki_article(i) for i in range(5))], "--redirects", str(redirects))
    return argv, ctx.tmp / "wiki.jsonl", first("links", ["3"])  # through the redirect file's first line


def bom_pubmed(ctx):
    argv = pubmed(ctx, [BOM + json.dumps(pubmed_record(0)).encode(), *(pubmed_record(i) for i in range(1, 5))])
    return argv, ctx.tmp / "corpus.jsonl", first("id", "1000")


BOM_CASES = {
    "preprocess_mmlu-csv": ("preprocess_mmlu", bom_mmlu),
    "preprocess_blurb-tsv": ("preprocess_blurb", bom_chemprot),
    "preprocess_blurb-quoted-tsv": ("preprocess_blurb", bom_bioasq),
    "preprocess_blurb-ner-tsv": ("preprocess_blurb", bom_ner),
    "preprocess_medqa-jsonl": ("preprocess_medqa", bom_medqa),
    "convert_wikipedia-json": ("convert_wikipedia", bom_wikipedia),
    "convert_wikipedia-redirects-tsv": ("convert_wikipedia", bom_redirects),
    "convert_pubmed-jsonl": ("convert_pubmed", bom_pubmed),
}


@pytest.mark.parametrize("entry,make", list(BOM_CASES.values()), ids=list(BOM_CASES))
def test_byte_order_mark_is_dropped(entry, make, ctx, capsys):
    argv, output, check = make(ctx)
    assert ENTRY[entry](argv) == 0, capsys.readouterr().err
    text = output.read_text(encoding="utf-8")
    assert "\ufeff" not in text and "\\ufeff" not in text  # neither the character nor its JSON escape
    check(read_jsonl(output))


# ---------------------------------------------------------------- a full disk


# Smaller than the tiny model's weights (about 160 KB) and larger than its results and prediction
# files (a few KB each, one 4 KB page apiece on tmpfs).
DISK_SIZE = "96k"


@pytest.fixture
def small_disk(tmp_path):
    """A freshly mounted tmpfs of DISK_SIZE; skips (saying why) where mounting is not allowed."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_keeps_the_results_and_no_half_written_model(small_disk, ctx, capsys):
    out = small_disk / "out"
    argv = finetune("run_seqcls", ctx, splits(ctx, seqcls_record), "--num_train_epochs", "1", out=out)
    status = ENTRY["run_seqcls"](argv)
    line = error_line(capsys.readouterr().err)
    assert status == 1, line
    assert f"error: {out}: no space left on the device" in line and "rerun" in line
    results = (
        "train_results.json",
        "eval_results.json",
        "predict_results.json",
        "all_results.json",
        "test_outputs.json",
    )
    for name in results:
        assert isinstance(json.loads((out / name).read_text()), dict), name
    for name in ("eval_predictions.jsonl", "predict_predictions.jsonl"):
        assert len(read_jsonl(out / name)) == 4, name
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert not [name for name in left if name.endswith((".safetensors", ".bin", ".tmp")) or ".staging" in name], left
