"""scripts/preprocess_mrqa.py on small MRQA-format files written here: exact records and order,
the in-house dev/test split by context line, gzip handling, and one-line errors for bad input."""

import gzip
import json

import pytest
from helpers import REPO, SHARED, load_module

from linkbert.cli import flags

SHARED_SPLITS = SHARED / "reference" / "inhouse_splits"
HEADER = {"header": {"dataset": "SQuAD", "split": "dev"}}


def qa(qid, question, *answers, key="id"):
    return {key: qid, "question": question, "detected_answers": list(answers)}


def answer(text, *spans):
    return {"text": text, "char_spans": [list(span) for span in spans]}


def expected(qid, question, context, starts, texts):
    return {"id": qid, "question": question, "context": context, "answers": {"answer_start": starts, "text": texts}}


# Four dev contexts. Character offsets were counted by hand; MRQA char spans end inclusively.
PARIS = "Paris is the capital of France."
BERLIN = "[PAR] Berlin is in Germany. Germany borders France."
WATER = "Water boils at 100 degrees."
MOON = "The Moon orbits the Earth."
CTX0 = {
    "context": PARIS,
    "qas": [
        qa("q0a", " What is the capital of France? ", answer("Paris", (0, 4))),
        qa("q0b", "Capital of which country?", answer("France", (24, 29))),
    ],
}
CTX1 = {
    "context": BERLIN,
    "qas": [
        # "qid" instead of "id"; two occurrences of the answer: the first gives answer_start.
        qa("q1a", "Where is Berlin?", answer("Germany", (19, 25), (28, 34)), key="qid"),
        qa("q1b", "What is near France?", answer("Germany", (28, 34)), answer("Berlin", (6, 11))),
    ],
}
CTX2 = {"context": WATER, "qas": [qa("q2a", "At what temperature does water boil?\n", answer("100 degrees", (15, 25)))]}
CTX3 = {"context": MOON, "qas": [qa("q3a", "What does the Moon orbit?", answer("the Earth", (16, 24)))]}
SPLIT = {"dev": [2, 0], "test": [3, 1]}

R0A = expected("q0a", "What is the capital of France?", PARIS, [0], ["Paris"])
R0B = expected("q0b", "Capital of which country?", PARIS, [24], ["France"])
R1A = expected("q1a", "Where is Berlin?", BERLIN, [19], ["Germany"])
R1B = expected("q1b", "What is near France?", BERLIN, [28, 6], ["Germany", "Berlin"])
R2A = expected("q2a", "At what temperature does water boil?", WATER, [15], ["100 degrees"])
R3A = expected("q3a", "What does the Moon orbit?", MOON, [16], ["the Earth"])


def load_script():
    return load_module(REPO / "scripts" / "preprocess_mrqa.py", "preprocess_mrqa")


def mrqa_text(contexts, header=HEADER):
    return "".join(json.dumps(obj) + "\n" for obj in [header, *contexts])


def write_raw(root, part, contexts, gz=False, name="SQuAD"):
    folder = root / "raw" / part
    folder.mkdir(parents=True, exist_ok=True)
    text = mrqa_text(contexts)
    if gz:
        path = folder / f"{name}.jsonl.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = folder / f"{name}.jsonl"
        path.write_text(text)
    return path


def write_split(root, split=SPLIT, name="squad"):
    folder = root / "splits"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"inhouse_split_{name}.json").write_text(json.dumps(split))


def make_inputs(root, gz=False, dev=(CTX0, CTX1, CTX2, CTX3), train=(CTX3, CTX1)):
    write_raw(root, "dev", dev, gz=gz)
    write_raw(root, "train", train, gz=gz)
    write_split(root)


def run(root, *extra):
    argv = flags(raw_dir=root / "raw", splits_dir=root / "splits", output_dir=root / "out")
    return load_script().main([*argv, "--datasets", "squad", *extra])


def output_lines(root, split):
    return (root / "out" / "squad_hf" / f"{split}.json").read_text().splitlines()


def test_records_and_order_follow_the_split_file(tmp_path, capsys):
    make_inputs(tmp_path)
    assert run(tmp_path) == 0
    # dev = contexts 2 then 0, test = contexts 3 then 1: the order listed, questions in file order.
    assert output_lines(tmp_path, "dev") == [json.dumps(r) for r in (R2A, R0A, R0B)]
    assert output_lines(tmp_path, "test") == [json.dumps(r) for r in (R3A, R1A, R1B)]
    assert output_lines(tmp_path, "train") == [json.dumps(r) for r in (R3A, R1A, R1B)]
    printed = capsys.readouterr()
    assert "squad dev: 3 examples" in printed.out and "squad train: 3 examples" in printed.out
    assert "95th" in printed.out
    assert "warning" not in printed.err  # the hand-counted spans above all match


def test_gzipped_and_plain_inputs_give_identical_files(tmp_path):
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    make_inputs(plain)
    make_inputs(packed, gz=True)
    assert run(plain) == 0 and run(packed) == 0
    for split in ("train", "dev", "test"):
        assert output_lines(plain, split) == output_lines(packed, split)


def test_gz_file_that_is_not_gzip_is_named(tmp_path, capsys):
    make_inputs(tmp_path)
    (tmp_path / "raw" / "dev" / "SQuAD.jsonl").rename(tmp_path / "raw" / "dev" / "SQuAD.jsonl.gz")
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'raw' / 'dev' / 'SQuAD.jsonl.gz'}: named .gz but is not gzip-compressed" in err


def test_truncated_gzip_is_named(tmp_path, capsys):
    make_inputs(tmp_path, gz=True, train=[CTX0] * 300)
    path = tmp_path / "raw" / "train" / "SQuAD.jsonl.gz"
    path.write_bytes(path.read_bytes()[:-20])
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert f"{path}:" in err and "corrupt or truncated data" in err
    assert not (tmp_path / "out").exists()


def test_missing_raw_file_says_what_to_download(tmp_path, capsys):
    make_inputs(tmp_path)
    (tmp_path / "raw" / "train" / "SQuAD.jsonl").unlink()
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert "SQuAD.jsonl.gz: file not found" in err and "download_raw_data.sh mrqa" in err


def test_empty_context_names_file_line_and_field(tmp_path, capsys):
    # line 1 is the header, so the second context is line 3
    make_inputs(tmp_path, dev=(CTX0, {"context": "", "qas": []}, CTX2, CTX3))
    assert run(tmp_path) == 1
    assert f"{tmp_path / 'raw' / 'dev' / 'SQuAD.jsonl'}:3: field 'context': empty context" in capsys.readouterr().err


@pytest.mark.parametrize(
    "drop, field",
    [
        (lambda c: c.pop("context"), "context"),
        (lambda c: c.pop("qas"), "qas"),
        (lambda c: c["qas"][0].pop("question"), "qas[0].question"),
        (lambda c: c["qas"][0].pop("detected_answers"), "qas[0].detected_answers"),
        (lambda c: c["qas"][0]["detected_answers"][0].pop("char_spans"), "qas[0].detected_answers[0].char_spans"),
    ],
)
def test_missing_field_names_file_line_and_field(tmp_path, capsys, drop, field):
    bad = json.loads(json.dumps(CTX3))
    drop(bad)
    make_inputs(tmp_path, train=(CTX0, bad))
    assert run(tmp_path) == 1
    assert f"{tmp_path / 'raw' / 'train' / 'SQuAD.jsonl'}:3: field '{field}': missing" in capsys.readouterr().err


MISMATCH = {"context": "abc def ghi", "qas": [qa("bad1", "q?", answer("def", (3, 5)))]}


def test_span_mismatch_warns_and_keeps_the_record(tmp_path, capsys):
    make_inputs(tmp_path, train=(CTX0, MISMATCH))
    assert run(tmp_path) == 0
    err = capsys.readouterr().err
    assert "warning: squad: 1 detected answers" in err and "bad1" in err
    kept = expected("bad1", "q?", "abc def ghi", [3], ["def"])
    assert output_lines(tmp_path, "train")[-1] == json.dumps(kept)


def test_span_mismatch_is_an_error_on_request(tmp_path, capsys):
    make_inputs(tmp_path, train=(CTX0, MISMATCH))
    assert run(tmp_path, "--on_span_mismatch", "error") == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'raw' / 'train' / 'SQuAD.jsonl'}:3: field 'qas[0].detected_answers[0].char_spans'" in err
    assert "' de'" in err


def test_split_sizes_must_match_the_context_lines(tmp_path, capsys):
    make_inputs(tmp_path)
    write_split(tmp_path, {"dev": [0, 1], "test": [2]})
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert "inhouse_split_squad.json: 2 dev + 1 test = 3 indices" in err and "4 context lines" in err


def test_bad_input_leaves_no_output(tmp_path):
    # dev and test are fine; the train file's second context is broken after the first was written.
    make_inputs(tmp_path, train=(CTX0, {"qas": []}))
    assert run(tmp_path) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not SHARED_SPLITS.is_dir(), reason="needs ../shared/reference/inhouse_splits")
def test_real_squad_split_selects_contexts_by_line(tmp_path):
    split = json.loads((SHARED_SPLITS / "inhouse_split_squad.json").read_text())
    # "context number " is 15 characters, so the number itself spans 15 .. 14 + its length.
    contexts = [
        {"context": f"context number {i}", "qas": [qa(f"c{i}", "which?", answer(str(i), (15, 14 + len(str(i)))))]}
        for i in range(2067)
    ]
    write_raw(tmp_path, "dev", contexts)
    write_raw(tmp_path, "train", contexts[:1])
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "inhouse_split_squad.json").write_text(json.dumps(split))
    assert run(tmp_path, "--on_span_mismatch", "error") == 0
    for name, expected_count in (("dev", 1033), ("test", 1034)):
        records = [json.loads(line) for line in output_lines(tmp_path, name)]
        assert len(records) == expected_count
        assert [r["context"] for r in records] == [f"context number {i}" for i in split[name]]
        assert [r["id"] for r in records] == [f"c{i}" for i in split[name]]
