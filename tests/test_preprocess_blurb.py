"""scripts/preprocess_blurb.py on tiny raw files in BLURB's data_generation layout: the exact records of
every task type, and one-line errors (file:line: field) that leave no output behind."""

import json

import pytest
from helpers import REPO, load_module

ZEROS = [0] * 10


def pubmedqa_entry(question, contexts, decision):
    return {
        "QUESTION": question,
        "CONTEXTS": contexts,
        "LABELS": ["BACKGROUND"] * len(contexts),
        "final_decision": decision,
    }


PUBMEDQA = {
    "pqal_fold0/train_set.json": {
        "111": pubmedqa_entry(" Does X cause Y? ", [" First part. ", "", "  ", "Second part."], "yes"),
        "222": pubmedqa_entry("Is Z safe?", ["Only part."], " maybe "),
    },
    "pqal_fold0/dev_set.json": {"333": pubmedqa_entry("Dev question?", ["Dev context."], "no")},
    "test_set.json": {"444": pubmedqa_entry("Test question?", ["A.", "B."], "yes")},
}
PUBMEDQA_OUT = {
    "train": [
        {"id": "111", "sentence1": "Does X cause Y?", "sentence2": "First part. Second part.", "label": "yes"},
        {"id": "222", "sentence1": "Is Z safe?", "sentence2": "Only part.", "label": "maybe"},
    ],
    "dev": [{"id": "333", "sentence1": "Dev question?", "sentence2": "Dev context.", "label": "no"}],
    "test": [{"id": "444", "sentence1": "Test question?", "sentence2": "A. B.", "label": "yes"}],
}

# Raw `{split}.tsv` text per task (the same text is used for train, dev and test) and its records.
TSV = {
    "BioASQ": 'b1\t Is A B? \t Context one. \tyes\nb2\tIs C D?\tHe said "hi" there.\tno \n',
    "chemprot": "c1\tThe @CHEMICAL$ inhibits @GENE$.\tCPR:4\nc2\tNo relation here.\tfalse\n",
    "DDI": "d1\t@DRUG$ raises @DRUG$ levels.\tDDI-effect\nd2\tUnrelated drugs.\tDDI-false\n",
    "GAD": "index\tsentence\tlabel\ng1\t@GENE$ is linked to @DISEASE$.\t1\ng2\tNo link.\t0\n",
    "BIOSSES": "index\tsentence1\tsentence2\tscore\ns1\tA b.\tC d.\t2.8\ns2\tE f.\tG h.\t4\n",
    "HoC": (
        "labels\tsentence\tindex\n"
        "0_0,1_1,2_0,3_0,4_0,5_0,6_0,7_0,8_0,9_0\tSentence one.\t100_1\n"
        "0_1,1_0,2_0,3_0,4_0,5_0,6_0,7_0,8_0,9_1\tSentence two.\t100_2\n"
        "0_0,1_0,2_0,3_0,4_0,5_0,6_0,7_0,8_0,9_0\tOther abstract.\t200_1\n"
    ),
    "BC2GM": "-DOCSTART-\tO\n\nThe\tO\nBRCA1\tB\ngene\tI\n\n\nIt\tO\nworks\tO\n",
    "ebmnlp": "Patients\tI-PAR\nwith\tI-PAR\nasthma\tO\n\nreceived\tO\naspirin\tI-INT\n",
}
TSV_OUT = {
    ("seqcls", "bioasq"): [
        {"id": "b1", "sentence1": "Is A B?", "sentence2": "Context one.", "label": "yes"},
        {"id": "b2", "sentence1": "Is C D?", "sentence2": 'He said "hi" there.', "label": "no"},
    ],
    ("seqcls", "chemprot"): [
        {"id": "c1", "sentence": "The @CHEMICAL$ inhibits @GENE$.", "label": "CPR:4"},
        {"id": "c2", "sentence": "No relation here.", "label": "0"},
    ],
    ("seqcls", "DDI"): [
        {"id": "d1", "sentence": "@DRUG$ raises @DRUG$ levels.", "label": "DDI-effect"},
        {"id": "d2", "sentence": "Unrelated drugs.", "label": "0"},
    ],
    ("seqcls", "GAD"): [
        {"id": "g1", "sentence": "@GENE$ is linked to @DISEASE$.", "label": "1"},
        {"id": "g2", "sentence": "No link.", "label": "0"},
    ],
    ("seqcls", "BIOSSES"): [
        {"sentence1": "A b.", "sentence2": "C d.", "label": 2.8, "id": "s1"},
        {"sentence1": "E f.", "sentence2": "G h.", "label": 4.0, "id": "s2"},
    ],
    ("seqcls", "HoC"): [
        {"sentence": "Sentence one. Sentence two.", "label": [1, 1, 0, 0, 0, 0, 0, 0, 0, 1], "id": "100"},
        {"sentence": "Other abstract.", "label": ZEROS, "id": "200"},
    ],
    ("tokcls", "BC2GM"): [
        {"tokens": ["The", "BRCA1", "gene"], "ner_tags": ["O", "B", "I"], "id": "0"},
        {"tokens": ["It", "works"], "ner_tags": ["O", "O"], "id": "1"},
    ],
    ("tokcls", "ebmnlp"): [
        {"tokens": ["Patients", "with", "asthma"], "ner_tags": ["B-PAR", "B-PAR", "O"], "id": "0"},
        {"tokens": ["received", "aspirin"], "ner_tags": ["O", "B-INT"], "id": "1"},
    ],
}
OTHER_NER = ("BC5CDR-disease", "BC5CDR-chem", "NCBI-disease", "JNLPBA")


def load_script():
    return load_module(REPO / "scripts" / "preprocess_blurb.py", "preprocess_blurb")


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def raw(tmp_path):
    root = tmp_path / "data_generation" / "data"
    for relative, data in PUBMEDQA.items():
        write(root / "pubmedqa" / relative, json.dumps(data, indent=4))
    for folder, text in {**TSV, **dict.fromkeys(OTHER_NER, TSV["BC2GM"])}.items():
        for split in ("train", "dev", "test"):
            write(root / folder / f"{split}.tsv", text)
    return root


def run(raw_root, out, *tasks):
    argv = ["--raw_dir", str(raw_root), "--output_dir", str(out)]
    return load_script().main(argv + (["--tasks", *tasks] if tasks else []))


def lines(path):
    return path.read_text().splitlines()


def test_all_thirteen_tasks_exact_records(raw, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(raw, out) == 0
    for split, records in PUBMEDQA_OUT.items():
        assert lines(out / "seqcls" / "pubmedqa_hf" / f"{split}.json") == [json.dumps(r) for r in records]
    expected = {**TSV_OUT, **{("tokcls", name): TSV_OUT["tokcls", "BC2GM"] for name in OTHER_NER}}
    for (family, task), records in expected.items():
        for split in ("train", "dev", "test"):
            assert lines(out / family / f"{task}_hf" / f"{split}.json") == [json.dumps(r) for r in records], (
                task,
                split,
            )
    assert len(list(out.glob("*/*_hf"))) == 13
    printed = capsys.readouterr().out
    assert "HoC train: 2 examples" in printed and "ebmnlp: wrote 3 files" in printed


def test_tasks_flag_selects_by_name(raw, tmp_path):
    out = tmp_path / "out"
    assert run(raw, out, "hoc", "BC5CDR-chem") == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*_hf")) == [
        "seqcls/HoC_hf",
        "tokcls/BC5CDR-chem_hf",
    ]


def test_unknown_task_name(raw, tmp_path, capsys):
    assert run(raw, tmp_path / "out", "mednli") == 1
    assert "unknown BLURB task(s) mednli" in capsys.readouterr().err


def test_wrong_column_count_names_file_line_field_and_writes_nothing(raw, tmp_path, capsys):
    bad = raw / "chemprot" / "dev.tsv"
    write(bad, "c1\tfine sentence\tCPR:3\nc2\tno label column\n")
    out = tmp_path / "out"
    assert run(raw, out, "chemprot") == 1
    assert (
        f"{bad}:2: field 'label': missing; expected 3 columns (id, sentence, label), found 2" in capsys.readouterr().err
    )
    assert not out.exists()


def test_extra_column_in_ner_file(raw, tmp_path, capsys):
    bad = raw / "JNLPBA" / "test.tsv"
    write(bad, "IL-2\tB-protein\n\ngene\tO\textra\n")
    assert run(raw, tmp_path / "out", "JNLPBA") == 1
    assert (
        f"{bad}:3: field 'tag': extra columns after it; expected 2 columns (token, tag), found 3"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "folder, split_file, text, where",
    [
        ("BioASQ", "train.tsv", "b1\tq\tc\tyes\nb2\tq\tc\tmaybe\n", ":2: field 'label': unknown label 'maybe'"),
        (
            "HoC",
            "test.tsv",
            "labels\tsentence\tindex\n0_0,1_0\ts\t1_1\n",
            ":2: field 'labels': expected 10 comma-separated items",
        ),
        (
            "HoC",
            "test.tsv",
            "h\ts\ti\n0_0,1_0,2_0,3_0,4_0,5_0,6_0,7_0,8_0,9_x\ts\t1_1\n",
            ":2: field 'labels': malformed item '9_x'",
        ),
        ("BIOSSES", "dev.tsv", "h\ts1\ts2\tscore\n1\ta\tb\thigh\n", ":2: field 'score': expected a number"),
    ],
)
def test_bad_values_name_file_line_field(raw, tmp_path, capsys, folder, split_file, text, where):
    bad = raw / folder / split_file
    write(bad, text)
    assert run(raw, tmp_path / "out") == 1
    assert f"{bad}{where}" in capsys.readouterr().err


def test_unknown_pubmedqa_decision_points_at_its_entry(raw, tmp_path, capsys):
    data = {"555": pubmedqa_entry("Q?", ["C."], "yes"), "666": pubmedqa_entry("Q?", ["C."], "perhaps")}
    bad = raw / "pubmedqa" / "test_set.json"
    write(bad, json.dumps(data, indent=4))
    assert run(raw, tmp_path / "out", "pubmedqa") == 1
    # With indent=4, line 1 is "{" and each entry spans 10 lines, so "666" opens line 12.
    assert f"{bad}:12: field '666.final_decision': unknown label 'perhaps'" in capsys.readouterr().err


def test_missing_raw_file_is_named_before_anything_is_written(raw, tmp_path, capsys):
    (raw / "ebmnlp" / "test.tsv").unlink()
    out = tmp_path / "out"
    assert run(raw, out) == 1
    err = capsys.readouterr().err
    assert f"{raw / 'ebmnlp' / 'test.tsv'}: file not found" in err and "download_raw_data.sh blurb" in err
    assert not out.exists()
