"""The four result tables this project reproduces and, for each paper column, where our number comes from.

A run of the recipes writes `runs/<run_dir>/<model>/predict_results.json` (with seeds or a grid, in
subfolders: see `collect`); `key` names the test metric the entry script computes there and `scale`
turns it into the paper's 0-100 scale (sequence classification, NER and multiple choice report
fractions; extractive QA reports 0-100 already, as the SQuAD metric does). Column order is the column
order of the paper's table.
"""

from __future__ import annotations

from dataclasses import dataclass

# BLURB groups its 13 tasks into six types and averages within each type first (Gu et al. 2021), so
# that the five NER data sets do not outweigh the single similarity task; LinkBERT Table 7 follows it.
NER = "named entity recognition"
PICO = "PICO extraction"
RELATION = "relation extraction"
SIMILARITY = "sentence similarity"
DOC_CLASSIFICATION = "document classification"
QA = "question answering"
BLURB_TYPES = (NER, PICO, RELATION, SIMILARITY, DOC_CLASSIFICATION, QA)


@dataclass(frozen=True)
class PaperColumn:
    """One task column of a paper table and the run that fills it."""

    run_dir: str  # runs/<run_dir>/<model>/, the recipes' output directory name
    name: str  # the paper's column name
    metric: str  # the paper's metric, as a reader would name it
    key: str  # the key in predict_results.json
    scale: float  # multiply the stored value by this to get the paper's 0-100 scale
    task_type: str | None = None  # the BLURB task type; None outside BLURB
    # Choosing among grid points (runs/<run_dir>/<model>/lr<lr>_ep<epochs>/) uses the DEV metric:
    # `dev_key` in eval_results.json of the same run, or of the same point under runs/<dev_from>/
    # when this column's runs only predict with a model fine-tuned there (MMLU evaluates MedQA's).
    dev_from: str | None = None
    higher_is_better: bool = True  # every paper column; a loss-like metric would set False

    @property
    def dev_key(self) -> str:
        """The dev-set twin of `key`: the same metric with the `eval_` prefix instead of `test_`."""
        return "eval_" + self.key.removeprefix("test_")


@dataclass(frozen=True)
class Family:
    name: str  # also the output file stem: <name>.md, <name>.csv, <name>.png
    tasks: tuple[PaperColumn, ...]
    aggregate: str | None  # "mean" (MRQA Avg), "blurb" (BLURB score) or None
    chance: float | None = None  # the score of a uniform random guess, where the table has one (0-100)


def _mrqa(run_dir: str, name: str) -> PaperColumn:
    return PaperColumn(run_dir, name, "F1", "test_f1", 1.0)


def _blurb(run_dir: str, name: str, metric: str, key: str, task_type: str) -> PaperColumn:
    return PaperColumn(run_dir, name, metric, key, 100.0, task_type)


MRQA = Family(
    "MRQA",
    (
        _mrqa("hotpot_hf", "HotpotQA"),
        _mrqa("triviaqa_hf", "TriviaQA"),
        _mrqa("searchqa_hf", "SearchQA"),
        _mrqa("naturalqa_hf", "NaturalQ"),
        _mrqa("newsqa_hf", "NewsQA"),
        _mrqa("squad_hf", "SQuAD"),
    ),
    aggregate="mean",
)

BLURB = Family(
    "BLURB",
    (
        _blurb("BC5CDR-chem_hf", "BC5-chem", "F1", "test_f1", NER),
        _blurb("BC5CDR-disease_hf", "BC5-disease", "F1", "test_f1", NER),
        _blurb("NCBI-disease_hf", "NCBI-disease", "F1", "test_f1", NER),
        _blurb("BC2GM_hf", "BC2GM", "F1", "test_f1", NER),
        _blurb("JNLPBA_hf", "JNLPBA", "F1", "test_f1", NER),
        _blurb("ebmnlp_hf", "EBM PICO", "macro F1", "test_macro_f1", PICO),
        _blurb("chemprot_hf", "ChemProt", "micro F1", "test_F1", RELATION),
        _blurb("DDI_hf", "DDI", "micro F1", "test_F1", RELATION),
        _blurb("GAD_hf", "GAD", "micro F1", "test_F1", RELATION),
        _blurb("BIOSSES_hf", "BIOSSES", "Pearson", "test_pearsonr", SIMILARITY),
        _blurb("HoC_hf", "HoC", "F1", "test_F1", DOC_CLASSIFICATION),
        _blurb("pubmedqa_hf", "PubMedQA", "accuracy", "test_accuracy", QA),
        _blurb("bioasq_hf", "BioASQ", "accuracy", "test_accuracy", QA),
    ),
    aggregate="blurb",
)

MEDQA = Family(
    "MedQA",
    (PaperColumn("medqa_usmle_hf", "MedQA-USMLE", "accuracy", "test_accuracy", 100.0),),
    aggregate=None,
    chance=25.0,  # four options
)

# Table 9 evaluates the MedQA-fine-tuned BioLinkBERT-large on MMLU without further training; the
# recipe writes that prediction-only run under its own directory.
MMLU = Family(
    "MMLU",
    (
        PaperColumn(
            "mmlu_professional_medicine_eval",
            "MMLU professional medicine",
            "accuracy",
            "test_accuracy",
            100.0,
            dev_from="medqa_usmle_hf",  # MMLU only predicts: the MedQA run's dev accuracy selects
        ),
    ),
    aggregate=None,
    chance=25.0,  # four options
)

FAMILIES = (MRQA, BLURB, MEDQA, MMLU)


def task_for_run_dir(run_dir: str) -> tuple[Family, PaperColumn] | None:
    """The family and task whose results the recipes write under runs/<run_dir>/, or None."""
    for family in FAMILIES:
        for task in family.tasks:
            if task.run_dir == run_dir:
                return family, task
    return None
