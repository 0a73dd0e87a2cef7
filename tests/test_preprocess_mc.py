"""scripts/preprocess_medqa.py and preprocess_mmlu.py on tiny raw files: exact multiple-choice records,
letter -> label index, and one-line errors (file:line: field) that leave no output behind."""

import json
import subprocess
import sys
from pathlib import Path

from helpers import REPO, load_module

MEDQA_DIR = Path("medqa", "data_clean", "questions", "US", "4_options")


def load_script(name):
    return load_module(REPO / "scripts" / f"{name}.py", name)


def medqa_item(question, options, letter):
    return {
        "question": question,
        "answer": options[letter],
        "options": options,
        "meta_info": "step1",
        "answer_idx": letter,
    }


OPTS1 = {"A": "Aspirin", "B": "Beta blocker", "C": "Calcium", "D": "Diuretic"}
OPTS2 = {"A": "1", "B": "2", "C": "3", "D": "4"}
MEDQA = {
    "train": [
        medqa_item("A 60-year-old man has chest pain. Next step?", OPTS1, "A"),
        medqa_item("How many?", OPTS2, "D"),
    ],
    "dev": [medqa_item("Dev question?", OPTS1, "C")],
    "test": [medqa_item("Test question?", OPTS2, "B")],
}


def mc(example_id, question, endings, label):
    """An expected record, fields in the original's order."""
    a, b, c, d = endings
    return {
        "id": example_id,
        "sent1": question,
        "sent2": "",
        "ending0": a,
        "ending1": b,
        "ending2": c,
        "ending3": d,
        "label": label,
    }


DRUGS = ["Aspirin", "Beta blocker", "Calcium", "Diuretic"]
MEDQA_OUT = {
    "train": [
        mc("train-00000", "A 60-year-old man has chest pain. Next step?", DRUGS, 0),
        mc("train-00001", "How many?", "1234", 3),
    ],
    "dev": [mc("dev-00000", "Dev question?", DRUGS, 2)],
    "test": [mc("test-00000", "Test question?", "1234", 1)],
}

# No header; a quoted question holding a comma and a line break, a quoted option holding a comma.
MMLU_CSV = (
    '"A 45-year-old smoker, coughing.\nWhat next?",Rest,"Surgery, then rest",Antibiotics,Observation,B\n'
    "Which organ makes insulin?,Liver,Pancreas,Kidney,Spleen,B\n"
    "Pick D.,w,x,y,z,D\n"
)


SMOKER_OPTIONS = ["Rest", "Surgery, then rest", "Antibiotics", "Observation"]


def mmlu_out(split):
    prefix = f"professional_medicine_{split}-"
    return [
        mc(prefix + "00000", "A 45-year-old smoker, coughing.\nWhat next?", SMOKER_OPTIONS, 1),
        mc(prefix + "00001", "Which organ makes insulin?", ["Liver", "Pancreas", "Kidney", "Spleen"], 1),
        mc(prefix + "00002", "Pick D.", "wxyz", 3),
    ]


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_medqa(root, data=MEDQA):
    for split, items in data.items():
        write(
            root / MEDQA_DIR / f"phrases_no_exclude_{split}.jsonl", "".join(json.dumps(item) + "\n" for item in items)
        )


def write_mmlu(root, texts=None):
    for split in ("dev", "val", "test"):
        text = (texts or {}).get(split, MMLU_CSV)
        write(root / "mmlu" / "data" / split / f"professional_medicine_{split}.csv", text)


def run_medqa(root):
    return load_script("preprocess_medqa").main(["--raw_dir", str(root / "medqa"), "--output_dir", str(root / "out")])


def run_mmlu(root):
    return load_script("preprocess_mmlu").main(["--raw_dir", str(root / "mmlu"), "--output_dir", str(root / "out")])


def lines(path):
    return path.read_text().splitlines()


def test_medqa_records(tmp_path, capsys):
    write_medqa(tmp_path)
    assert run_medqa(tmp_path) == 0
    for split, records in MEDQA_OUT.items():
        assert lines(tmp_path / "out" / "medqa_usmle_hf" / f"{split}.json") == [json.dumps(r) for r in records]
    assert "medqa_usmle train: 2 examples" in capsys.readouterr().out


def test_mmlu_records(tmp_path):
    write_mmlu(tmp_path)
    assert run_mmlu(tmp_path) == 0
    for split in ("dev", "val", "test"):
        path = tmp_path / "out" / "mmlu_hf" / "professional_medicine" / f"{split}.json"
        assert lines(path) == [json.dumps(r) for r in mmlu_out(split)]


def test_medqa_answer_letter_outside_a_to_d(tmp_path, capsys):
    bad = dict(MEDQA, dev=[medqa_item("Q?", OPTS1, "A"), {**medqa_item("Q?", OPTS1, "A"), "answer_idx": "E"}])
    write_medqa(tmp_path, bad)
    assert run_medqa(tmp_path) == 1
    path = tmp_path / MEDQA_DIR / "phrases_no_exclude_dev.jsonl"
    assert f"{path}:2: field 'answer_idx': expected one of A, B, C, D, got 'E'" in capsys.readouterr().err


def test_medqa_missing_option_and_no_output(tmp_path, capsys):
    no_d = {key: value for key, value in OPTS1.items() if key != "D"}
    write_medqa(tmp_path, dict(MEDQA, test=[medqa_item("Q?", no_d, "A")]))
    assert run_medqa(tmp_path) == 1
    path = tmp_path / MEDQA_DIR / "phrases_no_exclude_test.jsonl"
    assert f"{path}:1: field 'options.D': missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # train and dev were fine, yet nothing was written


def test_mmlu_bad_letter(tmp_path, capsys):
    write_mmlu(tmp_path, {"val": "Q one?,a,b,c,d,A\nQ two?,a,b,c,d,E\n"})
    assert run_mmlu(tmp_path) == 1
    path = tmp_path / "mmlu" / "data" / "val" / "professional_medicine_val.csv"
    assert f"{path}:2: field 'answer': expected one of A, B, C, D, got 'E'" in capsys.readouterr().err


def test_mmlu_missing_option_counts_lines_not_rows(tmp_path, capsys):
    # the first row spans lines 1-2 and the second is line 3, so the short row starts on line 4
    write_mmlu(tmp_path, {"test": MMLU_CSV.split("Pick")[0] + "Short row?,a,b,c,C\n"})
    assert run_mmlu(tmp_path) == 1
    path = tmp_path / "mmlu" / "data" / "test" / "professional_medicine_test.csv"
    err = capsys.readouterr().err
    assert f"{path}:4: field 'answer': missing; expected 6 columns (question, A, B, C, D, answer), found 5" in err
    assert not (tmp_path / "out").exists()


def test_mmlu_missing_file_says_what_to_download(tmp_path, capsys):
    assert run_mmlu(tmp_path) == 1
    err = capsys.readouterr().err
    assert (
        "professional_medicine_dev.csv: file not found; download it with `bash scripts/download_raw_data.sh mmlu`"
        in err
    )


def test_script_default_paths_are_relative_to_the_working_directory(tmp_path):
    # raw_data/ and data/ are relative to the working directory, as in the original scripts.
    write_mmlu(tmp_path / "raw_data")
    script = REPO / "scripts" / "preprocess_mmlu.py"
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    written = tmp_path / "data" / "mc" / "mmlu_hf" / "professional_medicine" / "test.json"
    assert lines(written) == [json.dumps(r) for r in mmlu_out("test")]
