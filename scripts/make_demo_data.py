"""Write the bundled demo data: small synthetic samples in the BLURB / MRQA / MedQA formats.

Nothing here comes from the real datasets: every sentence is generated from templates below, with a
rule that decides the label, so a tiny model can learn it in a minute and the demo shows metrics
above chance. The files are committed under demo/sample_data/; rerunning this script reproduces them.

    python scripts/make_demo_data.py --output_dir demo/sample_data
"""

import random
from pathlib import Path

from linkbert.cli import ArgumentParser
from linkbert.jsonl import write_jsonl

SIZES = {"train": 160, "dev": 40, "test": 40}
FILLER = "in human cells during the study of patients with chronic disease".split()
CHEMICALS = ["aspirin", "metformin", "tamoxifen", "cisplatin", "imatinib", "statin"]
GENES = ["EGFR", "TP53", "BRCA1", "KRAS", "HER2", "MTOR"]
RELATIONS = {
    "CPR:4": ["inhibits", "blocks", "suppresses"],
    "CPR:3": ["activates", "upregulates", "induces"],
    "0": ["was measured with", "appeared near", "and"],
}
HALLMARKS = [
    "metastasis",
    "immune",
    "energetics",
    "immortality",
    "suppressors",
    "instability",
    "angiogenesis",
    "apoptosis",
    "proliferation",
    "inflammation",
]


def filler(rng: random.Random, low: int = 2, high: int = 6) -> str:
    return " ".join(rng.sample(FILLER, rng.randint(low, high)))


def chemprot_like(rng: random.Random, index: int) -> dict:
    """Single sentence, three classes with "0" as the negative class (PRF1)."""
    label = rng.choice(list(RELATIONS))
    sentence = f"{filler(rng)} {rng.choice(CHEMICALS)} {rng.choice(RELATIONS[label])} {rng.choice(GENES)} {filler(rng)}"
    return {"id": f"demo-re-{index}", "sentence": sentence, "label": label}


def pubmedqa_like(rng: random.Random, index: int) -> dict:
    """Question + context pair, yes / no / maybe (accuracy)."""
    label = rng.choice(["yes", "no", "maybe"])
    finding = {"yes": "significantly reduced", "no": "had no effect on", "maybe": "possibly changed"}[label]
    drug, gene = rng.choice(CHEMICALS), rng.choice(GENES)
    question = f"does {drug} reduce {gene} expression ?"
    context = f"{filler(rng)} . treatment with {drug} {finding} {gene} levels {filler(rng)} ."
    return {"id": f"demo-qa-{index}", "sentence1": question, "sentence2": context, "label": label}


def biosses_like(rng: random.Random, index: int) -> dict:
    """Sentence pair with a float similarity score in [0, 4] (Pearson), signalled by a degree word."""
    degrees = {"identically": 4.0, "closely": 3.0, "partly": 2.0, "barely": 1.0, "unrelatedly": 0.0}
    degree = rng.choice(list(degrees))
    first = f"{rng.choice(CHEMICALS)} {rng.choice(RELATIONS['CPR:4'])} {rng.choice(GENES)} {filler(rng)}"
    second = f"{degree} {rng.choice(CHEMICALS)} {rng.choice(RELATIONS['CPR:3'])} {rng.choice(GENES)} {filler(rng)}"
    score = round(min(4.0, max(0.0, degrees[degree] + rng.uniform(-0.3, 0.3))), 2)
    return {"sentence1": first, "sentence2": second, "label": score, "id": f"demo-sts-{index}"}


def hoc_like(rng: random.Random, index: int) -> dict:
    """An abstract with a 10-way multi-hot label: a hallmark is present when its keyword appears."""
    present = [rng.random() < 0.3 for _ in HALLMARKS]
    parts = [f"{filler(rng, 1, 3)} {word}" for word, on in zip(HALLMARKS, present, strict=True) if on] or [filler(rng)]
    rng.shuffle(parts)
    return {"sentence": " . ".join(parts), "label": [int(on) for on in present], "id": f"{1000 + index}"}


def mrqa_like(rng: random.Random, index: int) -> dict:
    """Extractive QA in the MRQA-derived format: the answer is a span of a context long enough to
    need several windows at the demo's max_seq_length."""
    drug, gene = rng.sample(CHEMICALS, 1)[0], rng.choice(GENES)
    before = " . ".join(filler(rng, 4, 10) for _ in range(rng.randint(1, 4)))
    after = " . ".join(filler(rng, 4, 10) for _ in range(rng.randint(1, 4)))
    context = f"[PAR] {before} . the target of {drug} is {gene} . {after}"
    start = context.index(f"is {gene}") + 3
    return {
        "id": f"demo-mrqa-{index}",
        "question": f"what is the target of {drug} ?",
        "context": context,
        "answers": {"answer_start": [start], "text": [gene]},
    }


DISEASES = [
    ["breast", "cancer"],
    ["lung", "tumor"],
    ["kidney", "failure"],
    ["heart", "attack"],
    ["asthma"],
    ["hypertension"],
]


def ner_like(rng: random.Random, index: int) -> dict:
    """BC5CDR-like sentence: chemical and disease mentions among filler words, tagged B-/I- (entity F1)."""
    tokens, tags = [], []
    for _ in range(rng.randint(1, 3)):
        context = filler(rng, 1, 4).split()
        if rng.random() < 0.5:
            mention, kind = [rng.choice(CHEMICALS)], "Chemical"
        else:
            mention, kind = rng.choice(DISEASES), "Disease"
        tokens += context + mention
        tags += ["O"] * len(context) + [f"B-{kind}"] + [f"I-{kind}"] * (len(mention) - 1)
    tokens += filler(rng, 0, 2).split()
    tags += ["O"] * (len(tokens) - len(tags))
    return {"tokens": tokens, "ner_tags": tags, "id": str(index)}


def medqa_like(rng: random.Random, index: int) -> dict:
    """4-option question: which drug targets a gene; each gene has one fixed drug (GENES[i] -> CHEMICALS[i])."""
    target = rng.randrange(len(GENES))
    options = rng.sample([i for i in range(len(CHEMICALS)) if i != target], 3) + [target]
    rng.shuffle(options)
    record = {
        "id": f"demo-mc-{index:05d}",
        "sent1": f"{filler(rng)} . which drug targets {GENES[target]} ?",
        "sent2": "",
    }
    record.update({f"ending{i}": CHEMICALS[option] for i, option in enumerate(options)})
    record["label"] = options.index(target)
    return record


TASKS = {
    "seqcls/chemprot_demo_hf": chemprot_like,
    "seqcls/pubmedqa_demo_hf": pubmedqa_like,
    "seqcls/BIOSSES_demo_hf": biosses_like,
    "seqcls/HoC_demo_hf": hoc_like,
    "qa/mrqa_demo_hf": mrqa_like,
    "tokcls/ner_demo_hf": ner_like,
    "mc/medqa_demo_hf": medqa_like,
}


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--output_dir", default="demo/sample_data")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    for offset, (name, make) in enumerate(TASKS.items()):
        rng = random.Random(args.seed * 100 + offset)
        for split, size in SIZES.items():
            count = write_jsonl(
                Path(args.output_dir) / name / f"{split}.json", (make(rng, index) for index in range(size))
            )
            print(f"{name}/{split}.json: {count} examples")


if __name__ == "__main__":
    main()
