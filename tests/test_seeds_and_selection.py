"""Seeds and dev-selected hyperparameters, end to end on synthetic runs/ trees and recipe dry runs.

Tables: per task and model the mean, sample std (n - 1), n over the seeds that finished and whether the
paper's number lies within the seeds' min..max; a seed that did not finish is missing (never 0) and
not counted; the BLURB score and MRQA's Avg are computed per seed, then averaged; the CSV keeps every
seed; the chart draws ± std error bars. Grids: the point with the best mean DEV score is reported even
where another point has the better test score. Recipes: SEEDS / LRS / EPOCHS make one run per seed and
grid point, into seed<k>/ and lr<lr>_ep<epochs>/, their flags last; bad values stop before any job."""

import math
import re
import sys
from pathlib import Path

import pytest
from helpers import (
    BASE_BLURB,
    PNG_MAGIC,
    csv_rows,
    launched_commands,
    make_tables_cli,
    markdown_cells,
    parsed_command,
    recipe_run,
    write_result,
)

from linkbert.results.collect import OK, RunResult, collect_runs
from linkbert.results.comparison import Cell, build_table
from linkbert.results.families import BLURB, MEDQA, MMLU, MRQA, PaperColumn
from linkbert.results.published import load_published
from linkbert.results.selection import select

SQRT2 = math.sqrt(2)

# ---------------------------------------------------------------- a seeded runs/ tree
#
# BioLinkBERT-base, seeds 1-3 on all 13 BLURB tasks: seed 1 is BASE_BLURB (BLURB score 83.4 by hand,
# tests/test_make_tables.py), seed 2 is every task + 0.01 (so every task type mean and the BLURB score
# + 1: 84.4), seed 3 + 0.02, except:
#   BIOSSES  0.93, 0.94, 0.98 -> 93, 94, 98: mean 95, std sqrt((4 + 1 + 9) / 2) = sqrt(7); paper 93.25 in 93..98
#   ChemProt 78, 79, 80: mean 79, std 1; paper 77.57 below 78..80
#   JNLPBA   79, 80, seed 3 unfinished: n = 2, mean 79.5, std sqrt((0.25 + 0.25) / 1) = sqrt(0.5);
#            paper 79.03 in 79..80
# BLURB score: seed 1 83.4, seed 2 84.4, seed 3 none (no JNLPBA): n = 2, mean 83.9, std sqrt(0.5);
#   paper 83.39 below 83.4..84.4
# NER type mean: seed 1 86.4, seed 2 87.4: 86.9 +- sqrt(0.5)
SEED_EXCEPTIONS = {"BIOSSES_hf": (0.93, 0.94, 0.98)}

# BioLinkBERT-large: ChemProt seeds 1 and 2 (0.80, 0.82: 81 +- sqrt(2)); DDI only seed 1 (0.83: n = 1,
# no std; seed 2 never started); GAD seed 1 0.85 and seed 2 a corrupt file (n = 1).

# LinkBERT-base MRQA, seeds 1 and 2 (F1 already 0-100):
#   seed 1: 80 on every task but TriviaQA 72 -> Avg (5 x 80 + 72) / 6 = 472 / 6 = 78.6667
#   seed 2: 82 on every task but TriviaQA 76 and SQuAD 88 -> Avg (4 x 82 + 76 + 88) / 6 = 492 / 6 = 82
#   Avg: mean (78.6667 + 82) / 2 = 80.3333, std (82 - 78.6667) / sqrt(2) = 2.3570; paper 77.8 outside
#   TriviaQA: 72, 76 -> 74 +- 2 sqrt(2); paper 73.9 inside 72..76
MRQA_SEED1 = {"hotpot_hf": 80.0, "triviaqa_hf": 72.0, "searchqa_hf": 80.0, "naturalqa_hf": 80.0}
MRQA_SEED1 |= {"newsqa_hf": 80.0, "squad_hf": 80.0}
MRQA_SEED2 = {"hotpot_hf": 82.0, "triviaqa_hf": 76.0, "searchqa_hf": 82.0, "naturalqa_hf": 82.0}
MRQA_SEED2 |= {"newsqa_hf": 82.0, "squad_hf": 88.0}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("seeded") / "runs"
    for task_dir, (key, value) in BASE_BLURB.items():
        values = SEED_EXCEPTIONS.get(task_dir, (value, value + 0.01, value + 0.02))
        for seed, seed_value in enumerate(values, start=1):
            if task_dir == "JNLPBA_hf" and seed == 3:
                (runs / task_dir / "BioLinkBERT-base" / "seed3").mkdir(parents=True)
                (runs / task_dir / "BioLinkBERT-base" / "seed3" / "log.txt").write_text("killed\n")
                continue
            write_result(runs, task_dir, f"BioLinkBERT-base/seed{seed}", {key: seed_value})
    write_result(runs, "chemprot_hf", "BioLinkBERT-large/seed1", {"test_F1": 0.80})
    write_result(runs, "chemprot_hf", "BioLinkBERT-large/seed2", {"test_F1": 0.82})
    write_result(runs, "DDI_hf", "BioLinkBERT-large/seed1", {"test_F1": 0.83})
    write_result(runs, "GAD_hf", "BioLinkBERT-large/seed1", {"test_F1": 0.85})
    write_result(runs, "GAD_hf", "BioLinkBERT-large/seed2", '{"test_F1": 0.8')
    for seed, values in ((1, MRQA_SEED1), (2, MRQA_SEED2)):
        for task_dir, value in values.items():
            write_result(runs, task_dir, f"LinkBERT-base/seed{seed}", {"test_f1": value, "test_exact_match": 1.0})
    return runs


@pytest.fixture(scope="module")
def seeded_tables(seeded):
    out = seeded.parent / "tables"
    code, stdout, stderr = make_tables_cli(["--runs", str(seeded), "--output_dir", str(out)])
    assert code == 0, stderr
    return out, stdout, stderr


def blurb_table(runs: Path):
    return build_table(BLURB, collect_runs(runs), load_published()["BLURB"])


def row_of(table, label):
    return next(row for row in table.rows if row.label == label)


def test_cell_statistics_by_hand():
    cell = Cell.from_seeds([(1, 93.0), (2, 94.0), (3, 98.0)], 93.25)
    assert (cell.ours, cell.n, cell.low, cell.high) == (95.0, 3, 93.0, 98.0)
    assert cell.std == pytest.approx(math.sqrt(7))  # sample std: sum of squares 14 over n - 1 = 2
    assert cell.in_range is True and cell.diff == pytest.approx(1.75)
    missing = Cell.from_seeds([(1, 79.0), (2, None), (3, 80.0)], 81.0)
    assert (missing.ours, missing.n, missing.in_range) == (79.5, 2, False)  # the missing seed is no 0
    assert missing.std == pytest.approx(math.sqrt(0.5))
    one = Cell.from_seeds([(1, 83.0), (2, None)], 83.0)
    assert (one.n, one.std, one.in_range) == (1, None, None)  # no spread, no range check from one seed
    assert Cell.from_seeds([(1, None)], 50.0).ours is None
    assert (Cell(70.0, 70.2).n, Cell(70.0, 70.2).std, Cell(None, 70.2).n) == (1, None, 0)  # one run


def test_per_task_mean_std_n_and_range(seeded):
    table = blurb_table(seeded)
    assert table.seeds == {"BioLinkBERT-base": (1, 2, 3), "BioLinkBERT-large": (1, 2)}
    biosses = row_of(table, "BIOSSES").cells["BioLinkBERT-base"]
    assert biosses.ours == pytest.approx(95.0) and biosses.std == pytest.approx(math.sqrt(7))
    assert (biosses.n, biosses.in_range) == (3, True)
    chemprot = row_of(table, "ChemProt").cells["BioLinkBERT-base"]
    assert chemprot.ours == pytest.approx(79.0) and chemprot.std == pytest.approx(1.0)
    assert (chemprot.n, chemprot.in_range) == (3, False)
    assert chemprot.diff == pytest.approx(79.0 - 77.57)
    large = row_of(table, "ChemProt").cells["BioLinkBERT-large"]
    assert large.ours == pytest.approx(81.0) and large.std == pytest.approx(SQRT2) and large.n == 2


def test_a_seed_that_did_not_finish_is_missing_not_zero(seeded, seeded_tables):
    table = blurb_table(seeded)
    jnlpba = row_of(table, "JNLPBA")
    cell = jnlpba.cells["BioLinkBERT-base"]
    assert cell.seeds[2] == (3, None) and cell.n == 2
    assert cell.ours == pytest.approx(79.5) and cell.std == pytest.approx(math.sqrt(0.5))  # a 0 would give 53
    assert cell.in_range is True  # paper 79.03 within 79..80
    assert "BioLinkBERT-base: n=2 of 3 seeds, missing (not counted): seed 3 unfinished run" in "; ".join(jnlpba.notes)
    ddi = row_of(table, "DDI")
    assert ddi.cells["BioLinkBERT-large"].n == 1 and ddi.cells["BioLinkBERT-large"].std is None
    assert "BioLinkBERT-large: n=1 of 2 seeds, missing (not counted): seed 2 not run" in ddi.notes
    gad = row_of(table, "GAD")
    assert gad.cells["BioLinkBERT-large"].ours == pytest.approx(85.0)
    assert "seed 2 invalid predict_results.json (see warning)" in "; ".join(gad.notes)
    out, _, stderr = seeded_tables
    assert f"warning: {seeded / 'GAD_hf' / 'BioLinkBERT-large' / 'seed2' / 'predict_results.json'}" in stderr
    rows = csv_rows(out / "BLURB.csv")
    assert rows["JNLPBA"]["BioLinkBERT-base seed3"] == ""  # empty, not 0
    assert rows["JNLPBA"]["BioLinkBERT-base n"] == "2"
    assert rows["DDI"]["BioLinkBERT-large seed2"] == ""


def test_blurb_score_is_computed_per_seed_then_averaged(seeded):
    table = blurb_table(seeded)
    score = row_of(table, "BLURB score")
    cell = score.cells["BioLinkBERT-base"]
    assert [seed for seed, _ in cell.seeds] == [1, 2, 3]
    assert cell.seeds[0][1] == pytest.approx(83.4) and cell.seeds[1][1] == pytest.approx(84.4)
    assert cell.seeds[2][1] is None  # seed 3 lacks JNLPBA: no BLURB score for it, not a partial one
    assert cell.ours == pytest.approx(83.9) and cell.std == pytest.approx(math.sqrt(0.5))
    assert (cell.n, cell.in_range) == (2, False)  # paper 83.39 below our lowest, 83.4
    assert "BioLinkBERT-base: no result for seed 3: JNLPBA" in score.notes
    ner = row_of(table, "named entity recognition").cells["BioLinkBERT-base"]
    assert ner.ours == pytest.approx(86.9) and ner.std == pytest.approx(math.sqrt(0.5)) and ner.n == 2
    similarity = row_of(table, "sentence similarity").cells["BioLinkBERT-base"]
    assert similarity.ours == pytest.approx(95.0) and similarity.n == 3  # BIOSSES alone, every seed
    large = score.cells["BioLinkBERT-large"]
    assert large.ours is None and large.n == 0
    # seeds lacking the same tasks are named once: both lack the NER tasks, seed 2 DDI and GAD too
    relation_note = next(note for note in row_of(table, "relation extraction").notes if "BioLinkBERT-large" in note)
    assert relation_note == "BioLinkBERT-large: no result for seed 2: DDI, GAD"
    ner_note = next(note for note in row_of(table, "named entity recognition").notes if "BioLinkBERT-large" in note)
    assert ner_note == "BioLinkBERT-large: no result for seed 1, 2: BC5-chem, BC5-disease, NCBI-disease, BC2GM, JNLPBA"


def test_mrqa_avg_per_seed(seeded_tables):
    out, _, _ = seeded_tables
    rows = csv_rows(out / "MRQA.csv")
    avg = rows["Avg"]
    assert float(avg["LinkBERT-base seed1"]) == pytest.approx(472 / 6, abs=1e-4)
    assert float(avg["LinkBERT-base seed2"]) == pytest.approx(82.0)
    assert float(avg["LinkBERT-base ours"]) == pytest.approx((472 / 6 + 82) / 2, abs=1e-4)
    assert float(avg["LinkBERT-base std"]) == pytest.approx((82 - 472 / 6) / SQRT2, abs=1e-4)
    assert (avg["LinkBERT-base n"], avg["LinkBERT-base paper in min..max"]) == ("2", "no")
    trivia = rows["TriviaQA"]
    assert float(trivia["LinkBERT-base ours"]) == pytest.approx(74.0)
    assert float(trivia["LinkBERT-base std"]) == pytest.approx(2 * SQRT2, abs=1e-4)
    assert (trivia["LinkBERT-base min"], trivia["LinkBERT-base max"]) == ("72.0000", "76.0000")
    assert trivia["LinkBERT-base paper in min..max"] == "yes"


def test_markdown_shows_mean_std_n_range_and_says_what_they_are(seeded_tables):
    out, stdout, _ = seeded_tables
    markdown = (out / "BLURB.md").read_text(encoding="utf-8")
    assert markdown in stdout
    header = markdown_cells(markdown, "task")
    columns = ["ours", "paper", "diff", "n", "paper in min..max"]
    assert header[2:7] == [f"BioLinkBERT-base {column}" for column in columns]
    biosses = markdown_cells(markdown, "BIOSSES")
    assert biosses[2:7] == ["95.00 ± 2.65", "93.25", "+1.75", "3", "yes"]
    assert markdown_cells(markdown, "ChemProt")[2:7] == ["79.00 ± 1.00", "77.57", "+1.43", "3", "no"]
    assert markdown_cells(markdown, "**BLURB score**")[2:7] == ["83.90 ± 0.71", "83.39", "+0.51", "2", "no"]
    large_ddi = markdown_cells(markdown, "DDI")[header.index("BioLinkBERT-large ours") :][:5]
    assert large_ddi == ["83.00", "83.35", "-0.35", "1", "—"]  # one seed: no std, no range check
    assert "sample standard deviation (n - 1 in the denominator)" in markdown
    assert "paper in min..max = yes when the paper's number lies between our lowest and highest seed" in markdown
    assert "never 0" in markdown and "computed per seed" in markdown


def test_csv_keeps_every_seed(seeded_tables):
    out, _, _ = seeded_tables
    rows = csv_rows(out / "BLURB.csv")
    for task in BLURB.tasks:
        key, value = BASE_BLURB[task.run_dir]
        values = SEED_EXCEPTIONS.get(task.run_dir, (value, value + 0.01, value + 0.02))
        for seed, expected in enumerate(values, start=1):
            if (task.name, seed) == ("JNLPBA", 3):
                continue
            assert float(rows[task.name][f"BioLinkBERT-base seed{seed}"]) == pytest.approx(expected * 100), task.name
    assert float(rows["BLURB score"]["BioLinkBERT-base seed1"]) == pytest.approx(83.4)
    assert float(rows["BLURB score"]["BioLinkBERT-base seed2"]) == pytest.approx(84.4)
    assert rows["BLURB score"]["BioLinkBERT-base seed3"] == ""
    assert float(rows["ChemProt"]["BioLinkBERT-large seed2"]) == pytest.approx(82.0)


def test_chart_has_error_bars_of_one_std(seeded_tables, seeded):
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure

    from linkbert.results.plot import _draw, plotted_rows

    out, _, _ = seeded_tables
    assert (out / "BLURB.png").read_bytes()[:8] == PNG_MAGIC
    table = blurb_table(seeded)
    figure = Figure()
    FigureCanvasAgg(figure)
    _draw(figure, table)
    axes = figure.axes[0]
    bars = {container.get_label(): container for container in axes.containers if isinstance(container, BarContainer)}
    ours = bars["BioLinkBERT-base ours"]
    assert ours.errorbar is not None and bars["BioLinkBERT-base paper"].errorbar is None
    segments = ours.errorbar.lines[2][0].get_segments()  # one vertical segment per bar: mean - std .. mean + std
    labels = [row.label for row in plotted_rows(table)]
    half = [(segment[1][1] - segment[0][1]) / 2 for segment in segments]
    assert half[labels.index("BIOSSES")] == pytest.approx(math.sqrt(7))
    assert half[labels.index("BLURB score")] == pytest.approx(math.sqrt(0.5))
    middle = [(segment[1][1] + segment[0][1]) / 2 for segment in segments]
    assert middle[labels.index("BIOSSES")] == pytest.approx(95.0)
    # BioLinkBERT-large's bars: ChemProt (n = 2) has one, DDI (n = 1) a zero-length one
    large = [(s[1][1] - s[0][1]) / 2 for s in bars["BioLinkBERT-large ours"].errorbar.lines[2][0].get_segments()]
    present = [row.label for row in plotted_rows(table) if row.cells["BioLinkBERT-large"].ours is not None]
    assert large[present.index("ChemProt")] == pytest.approx(SQRT2) and large[present.index("DDI")] == 0
    assert "± std" in axes.get_ylabel()


def test_single_runs_render_as_before(tmp_path):
    # the old layout: no std, n = 1 and none of the seed columns
    write_result(tmp_path / "runs", "medqa_usmle_hf", "BioLinkBERT-base", {"test_accuracy": 0.42})
    code, stdout, _ = make_tables_cli(["--runs", str(tmp_path / "runs"), "--output_dir", str(tmp_path / "t")])
    assert code == 0
    assert markdown_cells(stdout, "task")[2:] == [
        "BioLinkBERT-base ours",
        "BioLinkBERT-base paper",
        "BioLinkBERT-base diff",
        "note",
    ]
    assert markdown_cells(stdout, "MedQA-USMLE")[2:5] == ["42.00", "40.00", "+2.00"]
    assert "Over seeds" not in stdout and "selected" not in stdout


# ---------------------------------------------------------------- dev-selected grid points
#
# MedQA, BioLinkBERT-base, seeds 1 and 2 at three grid points:
#   lr1e-5_ep2: dev 40, 42 (mean 41); test 45, 47 (mean 46)
#   lr2e-5_ep2: dev 44, 46 (mean 45, the best dev); test 37, 41 (mean 39: the worst test of the two)
#   lr3e-5_ep2: test 50, 52 (the best test of all) but no eval_results.json: cannot be selected
# -> reported: lr2e-5_ep2, 39 +- sqrt((4 + 4) / 1) = 2 sqrt(2), n = 2; paper 40 within 37..41.
# MMLU, BioLinkBERT-large (no seeds): chosen by the MedQA run's dev accuracy at the same point:
#   MedQA lr1e-5_ep2 dev 0.30, test 0.41; lr2e-5_ep2 dev 0.35, test 0.40
#   MMLU  lr1e-5_ep2 test 0.55;           lr2e-5_ep2 test 0.48 -> reported 48 (the MedQA-dev point)
GRID = {
    "lr1e-5_ep2": {1: (0.40, 0.45), 2: (0.42, 0.47)},
    "lr2e-5_ep2": {1: (0.44, 0.37), 2: (0.46, 0.41)},
    "lr3e-5_ep2": {1: (None, 0.50), 2: (None, 0.52)},
}


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("grid") / "runs"
    for point, seeds in GRID.items():
        for seed, (dev, test) in seeds.items():
            where = f"BioLinkBERT-base/{point}/seed{seed}"
            write_result(runs, "medqa_usmle_hf", where, {"test_accuracy": test})
            if dev is not None:
                write_result(runs, "medqa_usmle_hf", where, {"eval_accuracy": dev}, name="eval_results.json")
    for point, dev, test, mmlu in (("lr1e-5_ep2", 0.30, 0.41, 0.55), ("lr2e-5_ep2", 0.35, 0.40, 0.48)):
        write_result(runs, "medqa_usmle_hf", f"BioLinkBERT-large/{point}", {"test_accuracy": test})
        write_result(runs, "medqa_usmle_hf", f"BioLinkBERT-large/{point}", {"eval_accuracy": dev}, "eval_results.json")
        write_result(runs, "mmlu_professional_medicine_eval", f"BioLinkBERT-large/{point}", {"test_accuracy": mmlu})
    return runs


def test_the_dev_best_point_is_reported_not_the_test_best(grid):
    table = build_table(MEDQA, collect_runs(grid), load_published()["MedQA"])
    row = row_of(table, "MedQA-USMLE")
    cell = row.cells["BioLinkBERT-base"]
    assert cell.selected == "lr2e-5_ep2" and cell.dev == pytest.approx(45.0)
    assert cell.ours == pytest.approx(39.0) and cell.std == pytest.approx(2 * SQRT2) and cell.n == 2
    assert cell.in_range is True  # paper 40 within 37..41
    notes = "; ".join(row.notes)
    assert "BioLinkBERT-base: selected lr2e-5_ep2 on dev (eval_accuracy: mean 45.00 over 2 run(s)" in notes
    assert "lr1e-5_ep2 41.00" in notes
    assert "grid point lr3e-5_ep2 has no dev result ('eval_accuracy' in eval_results.json); not selectable" in notes
    large = row.cells["BioLinkBERT-large"]
    assert (large.selected, large.ours, large.seeds) == ("lr2e-5_ep2", pytest.approx(40.0), ())


def test_mmlu_is_selected_by_the_medqa_dev_score(grid):
    table = build_table(MMLU, collect_runs(grid), load_published()["MMLU"])
    row = row_of(table, "MMLU professional medicine")
    cell = row.cells["BioLinkBERT-large"]
    assert (cell.selected, cell.dev, cell.ours) == ("lr2e-5_ep2", pytest.approx(35.0), pytest.approx(48.0))
    assert "on dev (eval_accuracy of the runs in runs/medqa_usmle_hf/: mean 35.00" in "; ".join(row.notes)


def test_grid_table_marks_the_selected_point_and_says_dev_chose_it(grid, tmp_path):
    code, stdout, _ = make_tables_cli(["--runs", str(grid), "--output_dir", str(tmp_path / "t"), "--no_plots"])
    assert code == 0
    header = markdown_cells(stdout, "task")
    row = markdown_cells(stdout, "MedQA-USMLE")
    assert row[header.index("BioLinkBERT-base selected")] == "lr2e-5_ep2 (dev 45.00)"
    assert row[header.index("BioLinkBERT-base ours")] == "39.00 ± 2.83"
    assert "chosen per task and model by the best mean DEV score" in stdout
    assert "test scores are never used to choose" in stdout
    rows = csv_rows(tmp_path / "t" / "MedQA.csv")
    assert rows["MedQA-USMLE"]["BioLinkBERT-base selected"] == "lr2e-5_ep2"
    assert float(rows["MedQA-USMLE"]["BioLinkBERT-base selected dev"]) == pytest.approx(45.0)
    assert [float(rows["MedQA-USMLE"][f"BioLinkBERT-base seed{k}"]) for k in (1, 2)] == pytest.approx([37.0, 41.0])


def run(point: str | None, dev: float | None, test: float, seed=None) -> RunResult:
    return RunResult("m", MEDQA.tasks[0], Path("x"), OK, test, seed=seed, point=point, dev=dev)


def test_selection_rules():
    task = MEDQA.tasks[0]
    assert task.dev_key == "eval_accuracy" and BLURB.tasks[9].dev_key == "eval_pearsonr"
    # no grid: every run reported, nothing chosen
    plain = (run(None, None, 50.0),)
    assert select(plain, task, "m").runs == plain and select(plain, task, "m").point is None
    # ties go to the first point in (learning rate, epochs) order
    tie = (run("lr1e-5_ep2", 40.0, 10.0), run("lr2e-5_ep2", 40.0, 90.0))
    assert select(tie, task, "m").point == "lr1e-5_ep2"
    # lower is better: the smallest mean dev wins
    loss = PaperColumn("medqa_usmle_hf", "loss", "loss", "test_loss", 1.0, higher_is_better=False)
    assert select(tie[:1] + (run("lr2e-5_ep2", 30.0, 90.0),), loss, "m").point == "lr2e-5_ep2"
    # no point has a dev result: none is chosen, and the note says test is not used instead
    blind = select((run("lr1e-5_ep2", None, 99.0),), task, "m")
    assert blind.runs == () and blind.point is None
    assert any("none is selected (test scores are never used)" in note for note in blind.notes)


def test_grid_layout_without_dev_results_reports_nothing(tmp_path):
    write_result(tmp_path / "runs", "medqa_usmle_hf", "BioLinkBERT-base/lr1e-5_ep2", {"test_accuracy": 0.5})
    table = build_table(MEDQA, collect_runs(tmp_path / "runs"), load_published()["MedQA"])
    row = row_of(table, "MedQA-USMLE")
    assert row.cells["BioLinkBERT-base"].ours is None and row.cells["BioLinkBERT-base"].selected is None
    assert any("no grid point has a dev result" in note for note in row.notes)


def test_runs_beside_seed_or_grid_folders_are_named_and_not_used(tmp_path):
    runs = tmp_path / "runs"
    write_result(runs, "medqa_usmle_hf", "BioLinkBERT-base", {"test_accuracy": 0.9})
    write_result(runs, "medqa_usmle_hf", "BioLinkBERT-base/seed1", {"test_accuracy": 0.4})
    collection = collect_runs(runs)
    assert [run.seed for run in collection.get(MEDQA.tasks[0], "BioLinkBERT-base")] == [1]
    assert any("a single run beside seed<k>/ folders; not used" in warning for warning in collection.warnings)
    write_result(runs, "squad_hf", "LinkBERT-base", {"test_f1": 90.0})
    write_result(runs, "squad_hf", "LinkBERT-base/lr2e-5_ep2", {"test_f1": 80.0})
    collection = collect_runs(runs)
    assert [run.point for run in collection.get(MRQA.tasks[5], "LinkBERT-base")] == ["lr2e-5_ep2"]
    assert any("beside grid folders lr<lr>_ep<epochs>/; not used" in warning for warning in collection.warnings)


# ---------------------------------------------------------------- the recipes: SEEDS, LRS, EPOCHS


def test_seeds_run_once_each_with_the_seed_last_and_their_own_folder(tmp_path):
    result = recipe_run("blurb_biolinkbert-base", "BIOSSES", SEEDS="1 2 3 4 5")
    assert result.returncode == 0, result.stderr
    commands = launched_commands(result.stdout)
    assert len(commands) == 5
    for seed, cmd in enumerate(commands, start=1):
        _, _, training_args = parsed_command(cmd)
        # the paper's BIOSSES job passes --seed 5; the run's own --seed comes after it and wins
        assert cmd.count("--seed") == 2 and training_args.seed == seed
        assert training_args.output_dir == f"runs/BIOSSES_hf/BioLinkBERT-base/seed{seed}"
        assert training_args.learning_rate == 1e-5 and training_args.num_train_epochs == 30  # the paper's
    # the log goes into the seed's folder too: what the recipe hands the launcher
    record = tmp_path / "argv.txt"
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nopen({str(record)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
    )
    fake.chmod(0o755)
    result = recipe_run("blurb_biolinkbert-base", "BIOSSES", SEEDS="1 2", PYTHON=str(fake))
    assert result.returncode == 0, result.stderr
    logs = re.findall(r"--log (\S+)", record.read_text())
    assert logs == [f"runs/BIOSSES_hf/BioLinkBERT-base/seed{k}/log.txt" for k in (1, 2)]


def test_grid_points_and_seeds_get_their_folders_and_flags():
    result = recipe_run("blurb_biolinkbert-base", "chemprot", LRS="1e-5 3e-5", EPOCHS="2 4", SEEDS="7 8")
    assert result.returncode == 0, result.stderr
    commands = launched_commands(result.stdout)
    seen = []
    for cmd in commands:
        _, _, args = parsed_command(cmd)
        seen.append((args.learning_rate, args.num_train_epochs, args.seed, args.output_dir))
    base = "runs/chemprot_hf/BioLinkBERT-base"
    assert seen == [
        (lr, ep, seed, f"{base}/lr{lr_text}_ep{ep}/seed{seed}")
        for lr, lr_text in ((1e-5, "1e-5"), (3e-5, "3e-5"))
        for ep in (2, 4)
        for seed in (7, 8)
    ]
    # only LRS: the job's own epochs (chemprot: 10) name the folder; no seed folder
    result = recipe_run("blurb_biolinkbert-base", "chemprot", LRS="2e-5")
    (cmd,) = launched_commands(result.stdout)
    _, _, args = parsed_command(cmd)
    assert (args.learning_rate, args.num_train_epochs, args.seed) == (2e-5, 10, 42)
    assert args.output_dir == f"{base}/lr2e-5_ep10"
    assert cmd[cmd.index("--learning_rate", cmd.index("--learning_rate") + 1) + 1] == "2e-5"  # after the paper's


def test_mmlu_evaluates_each_seeds_medqa_model():
    result = recipe_run("medqa_biolinkbert-large", "medqa", "mmlu", SEEDS="1 2", EPOCHS="3")
    assert result.returncode == 0, result.stderr
    commands = launched_commands(result.stdout)
    assert len(commands) == 4
    for seed, cmd in zip((1, 2), commands[2:], strict=True):
        model_args, _, args = parsed_command(cmd)
        assert model_args.model_name_or_path == f"runs/medqa_usmle_hf/BioLinkBERT-large/lr3e-5_ep3/seed{seed}"
        assert args.output_dir == f"runs/mmlu_professional_medicine_eval/BioLinkBERT-large/lr3e-5_ep3/seed{seed}"


@pytest.mark.parametrize(
    "variable,value,bad",
    [
        ("SEEDS", "1 x", "x"),
        ("SEEDS", "-3", "-3"),
        ("SEEDS", "99999999999", "99999999999"),
        ("LRS", "abc", "abc"),
        ("LRS", "1e-5 $(touch pwned)", "$(touch"),
        ("EPOCHS", "-1", "-1"),
        ("EPOCHS", "0", "0"),
        ("SEEDS", "2 2", "2"),
    ],
)
def test_bad_values_stop_before_any_job(variable, value, bad, tmp_path):
    result = recipe_run("blurb_biolinkbert-base", "chemprot", "BIOSSES", cwd=tmp_path, **{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}: ") and bad in lines[0], lines
    assert "[launch]" not in result.stdout
    assert not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------- the demo's two-seed summary


@pytest.mark.slow
def test_demo_runs_two_seeds_and_summarises_them(tiny_model, tmp_path):
    from helpers import REPO, load_module

    demo = load_module(REPO / "scripts" / "demo.py", "demo_script")
    lines, png = demo.seeds_demo(tiny_model, tmp_path, REPO / "demo" / "sample_data")
    for seed in (1, 2):
        assert (tmp_path / "seeds" / "BIOSSES_hf" / tiny_model.name / f"seed{seed}" / "predict_results.json").is_file()
    assert len(lines) == 2
    assert re.search(
        r"over seeds 1, 2: test Pearson x 100 -?\d+\.\d\d( ± \d+\.\d\d)? \(mean ± sample std, n=2;", lines[0]
    )
    assert png == tmp_path / "seeds" / "BIOSSES-seeds.png" and png.read_bytes()[:8] == PNG_MAGIC
