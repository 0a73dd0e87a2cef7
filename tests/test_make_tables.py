"""scripts/make_tables.py on a synthetic runs/ tree: BLURB score arithmetic, missing runs shown as
missing (not 0), warnings for corrupt results, diffs, PNGs; and the packaged paper numbers reproduce
the paper's own BLURB scores and MRQA averages."""

import csv
import io
import json
from pathlib import Path

import pytest
from helpers import BASE_BLURB, PNG_MAGIC, csv_rows, make_tables_cli, markdown_cells, write_result

from linkbert.results.blurb_score import blurb_score, type_means
from linkbert.results.collect import INVALID, OK, read_run
from linkbert.results.families import BLURB, FAMILIES, MEDQA
from linkbert.results.published import load_published

# BioLinkBERT-base, all 13 BLURB tasks, as the entry scripts store them (fractions): BASE_BLURB (helpers).
# By hand, x100 then the mean within each BLURB task type:
#   NER        (94 + 86 + 88 + 85 + 79) / 5 = 432 / 5 = 86.4
#   PICO       74
#   relations  (78 + 83 + 85) / 3 = 246 / 3 = 82
#   similarity 93
#   HoC        84
#   QA         (70 + 92) / 2 = 162 / 2 = 81
# BLURB score = (86.4 + 74 + 82 + 93 + 84 + 81) / 6 = 500.4 / 6 = 83.4
BASE_TYPE_MEANS = [86.4, 74.0, 82.0, 93.0, 84.0, 81.0]
BASE_BLURB_SCORE = 83.4


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("synthetic") / "runs"
    for task_dir, (key, value) in BASE_BLURB.items():
        write_result(runs, task_dir, "BioLinkBERT-base", {key: value, "test_loss": 0.5})
    # BioLinkBERT-large: 12 tasks finished at 0.90; JNLPBA started but never predicted (unfinished).
    for task_dir, (key, _) in BASE_BLURB.items():
        if task_dir != "JNLPBA_hf":
            write_result(runs, task_dir, "BioLinkBERT-large", {key: 0.90})
    (runs / "JNLPBA_hf" / "BioLinkBERT-large").mkdir(parents=True)
    (runs / "JNLPBA_hf" / "BioLinkBERT-large" / "all_results.json").write_text('{"train_loss": 1.0}')
    # MRQA: QA metrics are already on 0-100; two of six tasks for base, one corrupt file for large.
    write_result(runs, "hotpot_hf", "LinkBERT-base", {"test_f1": 79.0, "test_exact_match": 65.0})
    write_result(runs, "squad_hf", "LinkBERT-base", {"test_f1": 91.0, "test_exact_match": 84.0})
    write_result(runs, "triviaqa_hf", "LinkBERT-large", '{"test_f1": 7')
    # MedQA: a published model and one the paper does not have.
    write_result(runs, "medqa_usmle_hf", "BioLinkBERT-base", {"test_accuracy": 0.42})
    write_result(runs, "medqa_usmle_hf", "my-bert", {"test_accuracy": 0.35})
    return runs


@pytest.fixture(scope="module")
def made(runs):
    """Run the CLI once for the whole module (drawing the charts takes about a second); return
    (output dir, stdout, stderr)."""
    out = runs.parent / "tables"
    code, stdout, stderr = make_tables_cli(["--runs", str(runs), "--output_dir", str(out)])
    assert code == 0, stderr
    return out, stdout, stderr


def test_blurb_score_hand_computation():
    scores = {task.name: BASE_BLURB[task.run_dir][1] * 100 for task in BLURB.tasks}
    assert [mean.value for mean in type_means(scores)] == pytest.approx(BASE_TYPE_MEANS)
    assert blurb_score(scores).value == pytest.approx(BASE_BLURB_SCORE)
    del scores["JNLPBA"]
    assert blurb_score(scores).value is None
    assert blurb_score(scores).missing == ("JNLPBA",)


def test_files_written_for_families_with_results(made):
    out, _, _ = made
    # No MMLU run exists, so no MMLU table; every other family gets all three files.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{family}.{ext}" for family in ("BLURB", "MRQA", "MedQA") for ext in ("md", "csv", "png")
    )
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_blurb_table_score_and_type_rows(made):
    out, stdout, _ = made
    rows = csv_rows(out / "BLURB.csv")
    assert float(rows["BLURB score"]["BioLinkBERT-base ours"]) == pytest.approx(83.4)
    assert float(rows["BLURB score"]["BioLinkBERT-base paper"]) == pytest.approx(83.39)
    # 83.4 - 83.39 = 0.01
    assert float(rows["BLURB score"]["BioLinkBERT-base diff"]) == pytest.approx(0.01)
    type_labels = [
        "named entity recognition",
        "PICO extraction",
        "relation extraction",
        "sentence similarity",
        "document classification",
        "question answering",
    ]
    assert [float(rows[label]["BioLinkBERT-base ours"]) for label in type_labels] == pytest.approx(BASE_TYPE_MEANS)
    assert (out / "BLURB.md").read_text(encoding="utf-8") in stdout


def test_missing_run_is_missing_not_zero(made):
    out, _, _ = made
    rows = csv_rows(out / "BLURB.csv")
    assert rows["JNLPBA"]["BioLinkBERT-large ours"] == ""
    assert rows["JNLPBA"]["BioLinkBERT-large diff"] == ""
    assert "BioLinkBERT-large: unfinished run" in rows["JNLPBA"]["note"]
    assert rows["BLURB score"]["BioLinkBERT-large ours"] == ""
    assert "BioLinkBERT-large: no result for JNLPBA" in rows["BLURB score"]["note"]
    # The NER type needs JNLPBA too; relation extraction is complete: (90 + 90 + 90) / 3 = 90.
    assert rows["named entity recognition"]["BioLinkBERT-large ours"] == ""
    assert float(rows["relation extraction"]["BioLinkBERT-large ours"]) == pytest.approx(90.0)
    markdown = (out / "BLURB.md").read_text(encoding="utf-8")
    header = markdown_cells(markdown, "task")
    jnlpba = markdown_cells(markdown, "JNLPBA")
    assert jnlpba[header.index("BioLinkBERT-large ours")] == "—"
    assert markdown_cells(markdown, "**BLURB score**")[header.index("BioLinkBERT-large ours")] == "—"


def test_mrqa_avg_only_over_complete_rows(made):
    out, _, _ = made
    rows = csv_rows(out / "MRQA.csv")
    assert rows["Avg"]["LinkBERT-base ours"] == ""
    assert "LinkBERT-base: no result for TriviaQA, SearchQA, NaturalQ, NewsQA" in rows["Avg"]["note"]
    assert float(rows["Avg"]["LinkBERT-base paper"]) == pytest.approx(77.8)
    # QA F1 is already 0-100, so it is not multiplied: 79.0 - 78.2 = 0.8.
    assert float(rows["HotpotQA"]["LinkBERT-base ours"]) == pytest.approx(79.0)
    assert float(rows["HotpotQA"]["LinkBERT-base diff"]) == pytest.approx(0.8)


def test_corrupt_results_warn_and_count_as_missing(made, runs):
    out, _, stderr = made
    corrupt = runs / "triviaqa_hf" / "LinkBERT-large" / "predict_results.json"
    assert f"warning: {corrupt}" in stderr
    rows = csv_rows(out / "MRQA.csv")
    assert rows["TriviaQA"]["LinkBERT-large ours"] == ""
    assert "LinkBERT-large: invalid predict_results.json" in rows["TriviaQA"]["note"]


def test_diff_is_ours_minus_paper(made):
    out, _, _ = made
    # BC5-chem, BioLinkBERT-base: 0.94 x 100 = 94.00; paper 93.75; diff 94.00 - 93.75 = +0.25.
    rows = csv_rows(out / "BLURB.csv")
    assert float(rows["BC5-chem"]["BioLinkBERT-base diff"]) == pytest.approx(0.25)
    markdown = (out / "BLURB.md").read_text(encoding="utf-8")
    header = markdown_cells(markdown, "task")
    bc5 = markdown_cells(markdown, "BC5-chem")
    columns = [header.index(f"BioLinkBERT-base {part}") for part in ("ours", "paper", "diff")]
    assert [bc5[index] for index in columns] == ["94.00", "93.75", "+0.25"]
    # MedQA: 0.42 x 100 = 42.0; paper 40.0; diff +2.0.
    medqa = csv_rows(out / "MedQA.csv")["MedQA-USMLE"]
    assert float(medqa["BioLinkBERT-base diff"]) == pytest.approx(2.0)


def test_column_and_row_order(made):
    out, _, _ = made
    # Published models in the paper's order, then unpublished ones; tasks in Table 7's column order.
    header = next(csv.reader(io.StringIO((out / "MedQA.csv").read_text(encoding="utf-8"))))
    assert header == [
        "task",
        "metric",
        "BioLinkBERT-base ours",
        "BioLinkBERT-base paper",
        "BioLinkBERT-base diff",
        "my-bert ours",
        "my-bert paper",
        "my-bert diff",
        "note",
    ]
    medqa = csv_rows(out / "MedQA.csv")["MedQA-USMLE"]
    assert medqa["my-bert paper"] == "" and float(medqa["my-bert ours"]) == pytest.approx(35.0)
    blurb_tasks = list(csv_rows(out / "BLURB.csv"))[:13]
    assert blurb_tasks == [
        "BC5-chem",
        "BC5-disease",
        "NCBI-disease",
        "BC2GM",
        "JNLPBA",
        "EBM PICO",
        "ChemProt",
        "DDI",
        "GAD",
        "BIOSSES",
        "HoC",
        "PubMedQA",
        "BioASQ",
    ]


def test_output_is_deterministic(made, runs, tmp_path):
    first, _, _ = made
    second = tmp_path / "again"
    assert make_tables_cli(["--runs", str(runs), "--output_dir", str(second)])[0] == 0
    assert sorted(p.name for p in second.iterdir()) == sorted(p.name for p in first.iterdir())
    for path in first.iterdir():
        assert (second / path.name).read_bytes() == path.read_bytes(), path.name


def test_no_finished_run_is_an_error(tmp_path):
    (tmp_path / "runs" / "squad_hf" / "LinkBERT-base").mkdir(parents=True)
    code, _, stderr = make_tables_cli(["--runs", str(tmp_path / "runs"), "--output_dir", str(tmp_path / "t")])
    assert code == 1 and "no finished run" in stderr
    assert not (tmp_path / "t").exists()


def test_read_run_rejects_values_on_the_wrong_scale(tmp_path):
    # A fraction metric stored as 42.0 would become 4200 after x100: flagged instead.
    write_result(tmp_path, "medqa_usmle_hf", "m", {"test_accuracy": 42.0})
    result, warning = read_run(tmp_path / "medqa_usmle_hf" / "m", "m", MEDQA.tasks[0])
    assert (result.status, result.value) == (INVALID, None)
    assert "expected a fraction" in warning
    write_result(tmp_path, "medqa_usmle_hf", "n", {"test_loss": 1.2})
    result, warning = read_run(tmp_path / "medqa_usmle_hf" / "n", "n", MEDQA.tasks[0])
    assert result.status == INVALID and "no 'test_accuracy'" in warning
    write_result(tmp_path, "medqa_usmle_hf", "o", {"test_accuracy": 0.5})
    result, warning = read_run(tmp_path / "medqa_usmle_hf" / "o", "o", MEDQA.tasks[0])
    assert (result.status, result.value, warning) == (OK, 50.0, None)


def test_published_data_reproduces_paper_blurb_scores():
    blurb = load_published()["BLURB"]
    published = {"PubMedBERT-base": 81.10, "BioLinkBERT-base": 83.39, "BioLinkBERT-large": 84.30}
    for model, expected in published.items():
        assert blurb.score(model, "BLURB score") == expected
        # e.g. PubMedBERT-base: NER (93.33 + 85.62 + 87.82 + 84.52 + 80.06) / 5 = 86.27, PICO 73.38,
        # RE (77.24 + 82.36 + 82.34) / 3 = 80.6467, BIOSSES 92.30, HoC 82.32, QA (55.84 + 87.56) / 2 = 71.70;
        # (86.27 + 73.38 + 80.6467 + 92.30 + 82.32 + 71.70) / 6 = 81.1028
        assert blurb_score(blurb.scores[model]).value == pytest.approx(expected, abs=0.01)
    # The JNLPBA value in doubt (facts §7) is the one that reproduces 81.10, and the file says so.
    assert blurb.score("PubMedBERT-base", "JNLPBA") == 80.06
    notes = [n for n in blurb.notes if (n.model, n.task) == ("PubMedBERT-base", "JNLPBA")]
    assert len(notes) == 1 and "80.06" in notes[0].note and "79.10" in notes[0].note


def test_published_mrqa_averages_and_registry_agree():
    published = load_published()
    for family in FAMILIES:
        assert published[family.name].tasks == tuple(task.name for task in family.tasks)
    mrqa = published["MRQA"]
    assert mrqa.models == ("BERT-tiny", "LinkBERT-tiny", "BERT-base", "LinkBERT-base", "BERT-large", "LinkBERT-large")
    # LinkBERT-base: (78.2 + 73.9 + 76.8 + 78.3 + 69.3 + 90.1) / 6 = 466.6 / 6 = 77.77, printed 77.8; the paper
    # rounds to one decimal, so each printed Avg is within 0.05 of the mean of its printed task numbers.
    for model in mrqa.models:
        mean = sum(mrqa.score(model, task) for task in mrqa.tasks) / len(mrqa.tasks)
        assert abs(mean - mrqa.score(model, "Avg")) <= 0.05 + 1e-9, model
    assert published["MedQA"].score("BioLinkBERT-large", "MedQA-USMLE") == 44.6
    assert published["MMLU"].score("BioLinkBERT-large", "MMLU professional medicine") == 50.7


def write_run_info(runs: Path, task_dir: str, model: str, checkpoint: str, shape: dict) -> None:
    path = runs / task_dir / model / "run_info.json"
    path.write_text(json.dumps({"checkpoint": {"name_or_path": checkpoint, "shape": shape}}), encoding="utf-8")


PAPER_BASE = {"model_type": "bert", "vocab_size": 28895, "hidden_size": 768, "num_hidden_layers": 12}
MINILM = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6}


def test_columns_name_the_checkpoint_used_and_other_checkpoints_are_not_compared(tmp_path):
    from linkbert.results.collect import collect_runs
    from linkbert.results.comparison import build_table
    from linkbert.results.families import BLURB
    from linkbert.results.published import load_published

    runs = tmp_path / "runs"
    # the paper's checkpoint, from a local folder named like it: compared as usual
    write_result(runs, "chemprot_hf", "BioLinkBERT-base", {"test_F1": 0.78})
    write_run_info(runs, "chemprot_hf", "BioLinkBERT-base", "/ckpt/BioLinkBERT-base", PAPER_BASE)
    # a MiniLM fine-tuned under the recipe's model name: shown, labelled, never compared
    write_result(runs, "chemprot_hf", "BioLinkBERT-large", {"test_F1": 0.70})
    write_run_info(runs, "chemprot_hf", "BioLinkBERT-large", "/models/all-MiniLM-L6-v2", MINILM)
    table = build_table(BLURB, collect_runs(runs), load_published()["BLURB"])
    assert table.label("BioLinkBERT-base") == "BioLinkBERT-base"
    assert table.label("BioLinkBERT-large") == "BioLinkBERT-large [checkpoint: all-MiniLM-L6-v2]"
    chemprot = next(row for row in table.rows if row.label == "ChemProt")
    base, large = chemprot.cells["BioLinkBERT-base"], chemprot.cells["BioLinkBERT-large"]
    assert base.diff == pytest.approx(78.0 - base.paper)
    assert large.ours == pytest.approx(70.0) and large.paper is not None and large.diff is None
    assert any("not the paper's BioLinkBERT-large" in note and "hidden_size 384" in note for note in chemprot.notes)
    score = next(row for row in table.rows if row.label == "BLURB score")
    assert score.cells["BioLinkBERT-large"].comparable is False

    from linkbert.results.text_formats import header, to_csv

    assert "BioLinkBERT-large [checkpoint: all-MiniLM-L6-v2] ours" in header(table)
    assert "BioLinkBERT-large paper" in header(table)
    row = next(r for r in csv.DictReader(io.StringIO(to_csv(table))) if r["task"] == "ChemProt")
    assert row["BioLinkBERT-large [checkpoint: all-MiniLM-L6-v2] diff"] == ""


def test_the_chart_marks_missing_numbers_labels_bars_and_draws_chance():
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from linkbert.results.comparison import TASK, Cell, FamilyTable, Row
    from linkbert.results.families import MEDQA
    from linkbert.results.plot import _draw
    from linkbert.results.published import load_published

    rows = [Row("MedQA-USMLE", "accuracy", TASK, {"ours-model": Cell(None, 45.1), "other": Cell(30.0, None)})]
    table = FamilyTable(MEDQA, load_published()["MedQA"], ["ours-model", "other"], rows, [])
    figure = Figure()
    FigureCanvasAgg(figure)
    _draw(figure, table)
    axes = figure.axes[0]
    texts = [text.get_text() for text in axes.texts]
    assert texts.count("n/a") == 2  # our missing score and the paper's missing one, each marked
    assert "45.1" in texts and "30.0" in texts  # value labels on the bars that exist
    assert [line.get_ydata()[0] for line in axes.get_lines()] == [25.0]  # MedQA's chance level
