"""Plain helpers shared by the test modules (fixtures live in conftest.py): paths, JSON lines,
loading scripts by path, the flags of a quick tiny-model run, and per task the synthetic examples,
split writers and run helpers that more than one test module uses; the recipes' dry runs and the
results tables' synthetic runs/ trees. Import them with `from helpers import ...`: pytest puts tests/
on sys.path, as it does for conftest."""

import csv
import functools
import importlib.util
import io
import json
import math
import os
import random
import shlex
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from linkbert.cli import flags

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# the tiny model's WordPiece vocabulary is trained on these lines (conftest's tiny_model and the
# modules that build their own tiny BERT)
VOCAB_TEXT = [
    "the protein binds the gene and inhibits growth of tumor cells",
    "aspirin activates receptor expression while metformin blocks kinase signaling",
    "does the drug reduce the dose ? yes no maybe",
    "red blue green yellow alpha beta gamma delta cat dog bird fish",
    "patients with chronic disease were treated in the clinic during the study",
]


# ---------------------------------------------------------------- JSON lines


def write_jsonl(path: Path, records) -> Path:
    """Write records as JSON lines (creating parent folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file, blank lines skipped."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- loading scripts by path


def load_module(path: Path, name: str, register: bool = False):
    """Import the Python file at `path` as module `name` (in sys.modules too if `register`)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_entry_point(relative_path: str):
    """Import an entry script (e.g. "seqcls/run_seqcls.py" under src/) by path and return its main."""
    path = REPO / "src" / relative_path
    return load_module(path, f"entry_{path.stem}").main


_entry_point = functools.cache(load_entry_point)


def run_seqcls(argv) -> int:
    """src/seqcls/run_seqcls.py's main(argv), the script loaded once on first use."""
    return _entry_point("seqcls/run_seqcls.py")(argv)


def run_qa(argv) -> int:
    """src/qa/run_qa.py's main(argv), the script loaded once on first use."""
    return _entry_point("qa/run_qa.py")(argv)


def run_ner(argv) -> int:
    """src/tokcls/run_ner.py's main(argv), the script loaded once on first use."""
    return _entry_point("tokcls/run_ner.py")(argv)


def run_mc(argv) -> int:
    """src/mc/run_multiple_choice.py's main(argv), the script loaded once on first use."""
    return _entry_point("mc/run_multiple_choice.py")(argv)


def build_pairs(argv) -> int:
    """src/pretrain/build_pairs.py's main(argv), the script loaded once on first use."""
    return _entry_point("pretrain/build_pairs.py")(argv)


def run_pretrain(argv) -> int:
    """src/pretrain/run_pretrain.py's main(argv), the script loaded once on first use."""
    return _entry_point("pretrain/run_pretrain.py")(argv)


# ---------------------------------------------------------------- any fine-tuning run

# Flags that make a tiny CPU run quick and quiet; tests add the task's own.
FAST_FLAGS = flags(save_strategy="no", report_to="none", disable_tqdm="true", log_level="warning", seed="42")


def full_run_argv(model, paths: dict, out: Path) -> list[str]:
    """The flags every end-to-end test passes: model, the three splits, train+eval+predict, output."""
    return flags(
        model_name_or_path=model,
        train_file=paths["train"],
        validation_file=paths["dev"],
        test_file=paths["test"],
        do_train=True,
        do_eval=True,
        do_predict=True,
        output_dir=out,
    )


def assert_same_predictions(ours: list[dict], theirs: list[dict], rel: float = 1e-5, abs: float = 1e-6) -> None:
    """Two predictions files agree record by record: the same fields and the same ids, labels, predicted
    classes, tags and answers, and floats (probabilities, QA scores, regression values) equal up to float
    noise, as two runs that compute the same numbers in another order (padding-free, resumed) give them."""

    def close(a, b) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            return all(isinstance(v, (int, float)) for v in (a, b)) and math.isclose(a, b, rel_tol=rel, abs_tol=abs)
        if isinstance(a, dict):
            return isinstance(b, dict) and list(a) == list(b) and all(close(a[key], b[key]) for key in a)
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        assert close(mine, other), (mine, other)


def assert_one_line_error(capsys, fragments, output_dir: Path) -> None:
    """The run printed exactly one `error: ...` line containing every fragment, and wrote nothing."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
    assert not output_dir.exists()


# ---------------------------------------------------------------- sequence classification (run_seqcls.py)

WORDS = "the protein binds gene growth tumor cells patients with chronic disease study".split()


def noise(rng, n=6):
    """2..n random filler words."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, n)))


def relation_example(rng, i):
    """A ChemProt-like record: the verb between "aspirin" and "kinase" gives the label."""
    label = rng.choice(["0", "CPR:3", "CPR:4"])
    verb = {"0": "and", "CPR:3": "activates", "CPR:4": "inhibits"}[label]
    return {"id": f"r{i}", "sentence": f"{noise(rng)} aspirin {verb} kinase {noise(rng)}", "label": label}


def pair_example(rng, i):
    """A PubMedQA-like sentence pair: the yes/no word in the second sentence is the label."""
    label = rng.choice(["yes", "no"])
    return {
        "id": f"p{i}",
        "sentence1": f"does the drug {noise(rng, 3)} ?",
        "sentence2": f"{noise(rng)} {label} {noise(rng)}",
        "label": label,
    }


def multilabel_example(rng, i):
    """A HoC-like multi-label record: which of cat/dog/bird/fish the sentence names is its multi-hot label."""
    label = [int(rng.random() < 0.4) for _ in range(4)]
    words = [w for w, on in zip(["cat", "dog", "bird", "fish"], label, strict=True) if on]
    # two rows per document: ids "<doc>_<row>", as HoC sentence ids look before aggregation
    return {"id": f"{i // 2}_{i % 2}", "sentence": f"{noise(rng)} {' '.join(words)}", "label": label}


def make_seqcls_splits(tmp_path, make, sizes=(48, 16, 16), seed=0):
    """train/dev/test JSON-lines files under tmp_path/data of make(rng, i) records; their paths."""
    rng = random.Random(seed)
    paths = {}
    for split, size in zip(("train", "dev", "test"), sizes, strict=True):
        paths[split] = write_jsonl(tmp_path / "data" / f"{split}.json", [make(rng, i) for i in range(size)])
    return paths


def seqcls_run(tiny_model, paths, out, *extra, epochs=2, lr="1e-3"):
    """run_seqcls.py on the three splits with quick settings; later flags in `extra` override."""
    argv = [
        *full_run_argv(tiny_model, paths, out),
        *flags(max_seq_length="64", per_device_train_batch_size="8", learning_rate=lr, num_train_epochs=epochs),
        *FAST_FLAGS,
        *extra,
    ]
    return run_seqcls(argv)


# ---------------------------------------------------------------- question answering (run_qa.py)

PLACES = ["alpha", "beta", "gamma", "delta", "cat", "dog", "bird", "fish"]
FILL = "the patients with chronic disease were treated in the clinic during the study".split()


def qa_example(rng, index):
    """A SQuAD-style record: "the capital of <place> is <answer>" inside 20-80 filler words."""
    place, answer = rng.sample(PLACES, 2)
    before = " ".join(rng.choice(FILL) for _ in range(rng.randint(10, 40)))
    after = " ".join(rng.choice(FILL) for _ in range(rng.randint(10, 40)))
    context = f"{before} . the capital of {place} is {answer} . {after}"
    start = context.index(f"is {answer}") + 3
    return {
        "id": f"q{index}",
        "question": f"what is the capital of {place} ?",
        "context": context,
        "answers": {"text": [answer], "answer_start": [start]},
    }


def make_qa_splits(tmp_path, sizes=(48, 12, 12)):
    """train/dev/test JSON-lines files directly under tmp_path of qa_example records (seed 3)."""
    rng = random.Random(3)
    return {
        split: write_jsonl(tmp_path / f"{split}.json", [qa_example(rng, f"{split}{i}") for i in range(n)])
        for split, n in zip(("train", "dev", "test"), sizes, strict=True)
    }


def qa_args(tiny_model, paths, out, *extra):
    """run_qa.py's argv: 48-token windows, stride 16, evaluation every 10 steps; `extra` overrides."""
    return [
        *full_run_argv(tiny_model, paths, out),
        *flags(
            max_seq_length="48",
            doc_stride="16",
            per_device_train_batch_size="8",
            learning_rate="3e-3",
            num_train_epochs="3",
            evaluation_strategy="steps",
            eval_steps="10",
        ),
        *FAST_FLAGS,
        *extra,
    ]


# ---------------------------------------------------------------- token classification (run_ner.py)

FILLER = "the binds and inhibits growth of with in study during".split()
ENTITIES = [
    (["aspirin"], "Chem"),
    (["metformin"], "Chem"),
    (["kinase"], "Gene"),
    (["receptor"], "Gene"),
    (["tumor", "cells"], "Dis"),
    (["chronic", "disease"], "Dis"),
]


def ner_example(rng, index):
    """A sentence of 1-3 known entities between filler words, with its BIO tags."""
    # Entities are known words, except "beta", a Chem or a Gene at random: no model gets those all
    # right, so the scores the tests check are not all 1.0.
    tokens, tags = [], []
    for _ in range(rng.randint(1, 3)):
        filler = rng.sample(FILLER, rng.randint(1, 3))
        words, kind = rng.choice(ENTITIES + [(["beta"], rng.choice(["Chem", "Gene"]))])
        tokens += filler + words
        tags += ["O"] * len(filler) + [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
    return {"tokens": tokens, "ner_tags": tags, "id": f"n{index}"}


def make_ner_splits(tmp_path, sizes=(48, 16, 16), seed=0, make=ner_example):
    """train/dev/test JSON-lines files under tmp_path/data of make(rng, i) records; their paths."""
    rng = random.Random(seed)
    return {
        split: write_jsonl(tmp_path / "data" / f"{split}.json", [make(rng, i) for i in range(size)])
        for split, size in zip(("train", "dev", "test"), sizes, strict=True)
    }


def ner_run(tiny_model, paths, out, *extra):
    """run_ner.py on the three splits with quick settings; later flags in `extra` override."""
    argv = [
        *full_run_argv(tiny_model, paths, out),
        *flags(
            max_seq_length="64",
            per_device_train_batch_size="8",
            per_device_eval_batch_size="5",
            learning_rate="5e-3",
            num_train_epochs="4",
        ),
        *FAST_FLAGS,
        *extra,
    ]
    return run_ner(argv)


# ---------------------------------------------------------------- multiple choice (run_multiple_choice.py)


def mc_example(rng, index):
    """A 4-option question whose right option says "yes", except in a quarter where none does."""
    # In those questions the label is a coin flip, so accuracy stays below 1 and recomputing it
    # from the predictions file means something.
    label = rng.randrange(4)
    guess = rng.random() < 0.25
    endings = [
        f"{rng.choice(WORDS)} {'yes' if i == label and not guess else rng.choice(['no', 'maybe'])}" for i in range(4)
    ]
    record = {"id": f"q{index}", "sent1": " ".join(rng.sample(WORDS, 4)), "sent2": ""}
    record.update({f"ending{i}": ending for i, ending in enumerate(endings)})
    record["label"] = label
    return record


def make_mc_splits(tmp_path, sizes=(48, 16, 16), seed=0):
    """train/dev/test JSON-lines files under tmp_path/data of mc_example records; their paths."""
    rng = random.Random(seed)
    return {
        split: write_jsonl(tmp_path / "data" / f"{split}.json", [mc_example(rng, i) for i in range(size)])
        for split, size in zip(("train", "dev", "test"), sizes, strict=True)
    }


def mc_run(model, paths, out, *extra, train=True):
    """run_multiple_choice.py with quick settings (predict only if not `train`); `extra` overrides."""
    files = flags(train_file=paths["train"], validation_file=paths["dev"], test_file=paths["test"])
    steps = ["--do_train", "--do_eval", "--do_predict"] if train else ["--do_predict"]
    argv = [
        "--model_name_or_path",
        str(model),
        *files,
        *steps,
        "--output_dir",
        str(out),
        "--max_seq_length",
        "32",
        "--per_device_train_batch_size",
        "8",
        "--per_device_eval_batch_size",
        "6",
        "--learning_rate",
        "3e-3",
        "--num_train_epochs",
        "5",
        *FAST_FLAGS,
        *extra,
    ]
    return run_mc(argv)


# ---------------------------------------------------------------- recipes (run_examples_*.sh)


def recipe_run(recipe: str, *tasks: str, cwd=None, **env) -> subprocess.CompletedProcess:
    """`bash run_examples_<recipe>.sh TASKS` with DRY_RUN=1 and this interpreter; `env` adds to (or
    overrides) those and os.environ."""
    environment = dict(os.environ, DRY_RUN="1", PYTHON=sys.executable)
    environment.update(env)
    return subprocess.run(
        ["bash", str(REPO / f"run_examples_{recipe}.sh"), *tasks],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def launched_commands(stdout: str) -> list[list[str]]:
    """The entry-script commands a dry run printed (the launcher's `[launch] python ... X.py ...` lines)."""
    lines = [line for line in stdout.splitlines() if line.startswith("[launch] ") and ".py" in line]
    return [shlex.split(line[len("[launch] ") :]) for line in lines]


def task_class_of(entry: str):
    """The Task subclass an entry script runs."""
    from linkbert.finetune.tasks.base import Task

    module = load_module(entry, "recipe_entry")
    return next(v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Task) and v is not Task)


def parsed_command(cmd: list[str]):
    """(model_args, data_args, training_args) of an entry-script command, as the entry script parses them."""
    from linkbert.finetune.args import parse_args

    entry = next(item for item in cmd if item.endswith(".py"))
    return parse_args(task_class_of(entry).data_args_class, cmd[cmd.index(entry) + 1 :])


# ---------------------------------------------------------------- results tables (scripts/make_tables.py)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# BioLinkBERT-base, all 13 BLURB tasks, as the entry scripts store them (fractions); by hand the BLURB
# score of these is 83.4 (see tests/test_make_tables.py).
BASE_BLURB = {
    "BC5CDR-chem_hf": ("test_f1", 0.94),
    "BC5CDR-disease_hf": ("test_f1", 0.86),
    "NCBI-disease_hf": ("test_f1", 0.88),
    "BC2GM_hf": ("test_f1", 0.85),
    "JNLPBA_hf": ("test_f1", 0.79),
    "ebmnlp_hf": ("test_macro_f1", 0.74),
    "chemprot_hf": ("test_F1", 0.78),
    "DDI_hf": ("test_F1", 0.83),
    "GAD_hf": ("test_F1", 0.85),
    "BIOSSES_hf": ("test_pearsonr", 0.93),
    "HoC_hf": ("test_F1", 0.84),
    "pubmedqa_hf": ("test_accuracy", 0.70),
    "bioasq_hf": ("test_accuracy", 0.92),
}


def write_result(runs: Path, task_dir: str, model: str, metrics, name: str = "predict_results.json") -> Path:
    """Write runs/<task_dir>/<model>/<name> (metrics: a dict, or text as it is); `model` may go on into
    a run's subfolder, e.g. "BioLinkBERT-base/seed2"."""
    path = runs / task_dir / model / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(metrics if isinstance(metrics, str) else json.dumps(metrics), encoding="utf-8")
    return path


def make_tables_cli(argv) -> tuple[int, str, str]:
    """scripts/make_tables.py's main(argv): (exit code, stdout, stderr)."""
    main = load_module(REPO / "scripts" / "make_tables.py", "make_tables_script").main
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


def csv_rows(path: Path) -> dict[str, dict[str, str]]:
    """A results CSV's rows by their task cell."""
    return {row["task"]: row for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


def markdown_cells(markdown: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is `label`."""
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in:\n{markdown}")
