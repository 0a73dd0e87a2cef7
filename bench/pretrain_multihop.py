"""Do linked pairs teach cross-document reasoning? LinkBERT vs BERT-style pretraining at toy scale, CPU.

A synthetic world is written as a linked corpus (ACL §1's motivating case, knowledge spread over
linked documents): each person's page says "P lives in C and pays taxes to Y." (plus a second
sentence about their trade) and links to C's page, which says "C is a city in Y." There are 2,000
cities with 4 residents each, so a city's country is stated only on its own page and on four
others: predicting a masked country from memory means memorising thousands of facts seen a
handful of times, while reading it off the linked page is easy - for a model that sees linked pages
together. The vocabulary is large enough for every name to be one wordpiece.

Two tiny BERTs start from the same random initialisation and get the same compute (steps, batch,
sequence length, masking); they differ only in the pairs built by build_pairs:
- bert: contiguous + random (--no_links, BERT's next-sentence pairs);
- linkbert: contiguous + random + linked (ACL §4).
(Each anchor draws uniformly among the relations it can take, see linkbert/pretrain/pairs.py; the
one-sentence city and country pages cannot form contiguous pairs, so the printed mixes are not
exactly 50/50 and 1/3 each.)

Two measurements, both on fresh random worlds (names from the corpus, relations drawn anew, so
nothing can be recalled from pretraining):
1. zero-shot cross-document cloze: "[CLS] P lives in C and pays taxes to [MASK]. [SEP] C is a city
   in Y. [SEP]" - is Y the top country? ("2 cities": B also states a second city's country, so the
   model must match C);
2. fine-tuned multi-hop extractive QA (AutoModelForQuestionAnswering on the saved checkpoint, as
   the paper evaluates on MRQA/HotpotQA): "which country does P pay taxes to ?" over four shuffled
   statements about two people, their cities and the cities' countries; both countries are in the
   context, so exact match needs the chain P -> city -> country. Several fine-tuning seeds.

    python bench/pretrain_multihop.py                      # about 10 minutes on 2 CPU cores
    python bench/pretrain_multihop.py --pretrain_steps 200 --finetune_seeds 0 --output_dir /tmp/mh   # smoke run

Writes OUTPUT_DIR/results.json with the command, settings, scores and times.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from linkbert.cli import flags
from linkbert.jsonl import atomic_output, write_jsonl

SYLLABLES = "ka lo mi ra ten vo si du pe zan ol fi ru ba ne ki mo ta lu sa ve di no ga".split()
TRADES = "baker smith weaver sailor farmer miner potter tailor".split()
HOBBIES = "chess music hiking fishing painting rowing".split()


# ---------------------------------------------------------------- the world and its corpus


def unique_names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    names = []
    while len(names) < count:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def make_world(rng: random.Random, countries: int, cities: int, people: int) -> dict:
    """People spread evenly over the cities; each city lies in one of `countries` countries."""
    taken: set[str] = set()
    world = {
        "countries": unique_names(rng, countries, taken),
        "cities": unique_names(rng, cities, taken),
        "people": unique_names(rng, people, taken),
    }
    world["city_of"] = {person: world["cities"][i % cities] for i, person in enumerate(world["people"])}
    world["country_of"] = {city: rng.choice(world["countries"]) for city in world["cities"]}
    return world


def corpus_docs(world: dict, rng: random.Random) -> list[dict]:
    """Person pages link to their city, city pages to their country, country pages to a city."""
    docs = []
    for person, city in world["city_of"].items():
        country = world["country_of"][city]
        # One sentence per segment (build_pairs --segment_unit sentence): the city and the country
        # it implies stay in one segment, the trade in the next.
        text = (
            f"{person} lives in {city} and pays taxes to {country}. "
            f"{person} works as a {rng.choice(TRADES)} and enjoys {rng.choice(HOBBIES)}."
        )
        docs.append({"id": f"person:{person}", "text": text, "links": [f"city:{city}"]})
    for city, country in world["country_of"].items():
        docs.append({"id": f"city:{city}", "text": f"{city} is a city in {country}.", "links": [f"country:{country}"]})
    for country in world["countries"]:
        capital = rng.choice([c for c, y in world["country_of"].items() if y == country])
        docs.append(
            {
                "id": f"country:{country}",
                "text": f"{country} is a country with the capital {capital}.",
                "links": [f"city:{capital}"],
            }
        )
    return docs


def qa_example(rng: random.Random, world: dict, index: int) -> dict:
    """The answer is the country of the asked person's city, in a fresh two-person world."""
    p1, p2 = rng.sample(world["people"], 2)
    c1, c2 = rng.sample(world["cities"], 2)
    y1, y2 = rng.sample(world["countries"], 2)
    facts = [f"{p1} lives in {c1}.", f"{p2} lives in {c2}.", f"{c1} is a city in {y1}.", f"{c2} is a city in {y2}."]
    rng.shuffle(facts)
    context = " ".join(facts)
    answer_start = context.index(f"{c1} is a city in {y1}.") + len(f"{c1} is a city in ")
    return {
        "id": f"q{index}",
        "question": f"which country does {p1} pay taxes to ?",
        "context": context,
        "answer": y1,
        "answer_start": answer_start,
    }


# ---------------------------------------------------------------- pretraining


def pretrain(variant: str, docs_path: Path, init: Path, out: Path, args) -> dict:
    from linkbert.pretrain.build import main as build_main
    from linkbert.pretrain.train import main as train_main

    pairs = out / f"pairs-{variant}"
    build = flags(
        corpus=docs_path,
        tokenizer=init,
        output_dir=pairs,
        max_seq_length=64,
        segment_length=32,
        segment_unit="sentence",
        seed=args.seed,
        overwrite_output_dir=True,
    )
    if variant == "bert":
        build.append("--no_links")
    assert build_main(build) == 0
    model = out / f"model-{variant}"
    train = flags(
        model_name_or_path=init,
        train_dir=pairs,
        output_dir=model,
        max_steps=args.pretrain_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.pretrain_lr,
        warmup_steps=0.06,
        weight_decay=0.01,
        adam_beta2="0.98",
        logging_steps=max(1, args.pretrain_steps // 10),
        save_steps=args.pretrain_steps,
        seed=args.seed,
        mlm_probability=args.mlm_probability,
        overwrite_output_dir=True,
    )
    started = time.time()
    assert train_main(train) == 0
    results = json.loads((model / "train_results.json").read_text())
    results["seconds"] = time.time() - started
    results["pair_counts"] = json.loads((pairs / "manifest.json").read_text())["pair_counts"]
    return {"checkpoint": str(model), **results}


def cloze(checkpoint: str, world: dict, rng: random.Random, count: int, distractor: bool) -> float:
    """Zero-shot: share of fresh chains where the MLM head ranks the right country first among all
    countries (each a single wordpiece)."""
    import torch
    from transformers import AutoTokenizer

    from linkbert.pretrain.model import LinkBertForPreTraining

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = LinkBertForPreTraining.from_pretrained(checkpoint).eval()
    pieces = [tokenizer.tokenize(y) for y in world["countries"]]
    if any(len(p) != 1 for p in pieces):
        raise ValueError(f"every country must be one wordpiece for the cloze, got {pieces}")
    ids = tokenizer.convert_tokens_to_ids([p[0] for p in pieces])
    hits = 0
    for _ in range(count):
        person, (city, other) = rng.choice(world["people"]), rng.sample(world["cities"], 2)
        (country, other_country) = rng.sample(range(len(ids)), 2)
        facts = [f"{city} is a city in {world['countries'][country]}."] + (
            [f"{other} is a city in {world['countries'][other_country]}."] if distractor else []
        )
        rng.shuffle(facts)
        encoded = tokenizer(
            f"{person} lives in {city} and pays taxes to {tokenizer.mask_token}.", " ".join(facts), return_tensors="pt"
        )
        with torch.no_grad():
            logits = model(**encoded).mlm_logits[0]
        position = (encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0, 0]
        hits += int(logits[position, ids].argmax()) == country
    return hits / count


# ---------------------------------------------------------------- fine-tuning


def finetune(checkpoint: str, train: list[dict], test: list[dict], seed: int, args) -> float:
    """Extractive QA: a plain AdamW loop with linear decay; returns test exact match."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForQuestionAnswering.from_pretrained(checkpoint)
        order = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.finetune_lr, weight_decay=0.01)
        steps = args.finetune_epochs * (len(train) // args.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / steps)
        model.train()
        for _ in range(args.finetune_epochs):
            permutation = torch.randperm(len(train), generator=order).tolist()
            for start in range(0, len(train) - args.batch_size + 1, args.batch_size):
                inputs, _ = encode(tokenizer, [train[i] for i in permutation[start : start + args.batch_size]])
                model(**inputs).loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
    return exact_match(model, tokenizer, test)


def encode(tokenizer, batch: list[dict]):
    """Tokenized (question, context) pairs with the answer's first and last token positions, and
    which positions belong to the context."""
    import torch

    encoded = tokenizer(
        [e["question"] for e in batch],
        [e["context"] for e in batch],
        padding=True,
        truncation=True,
        max_length=128,
        return_tensors="pt",
    )
    starts = [encoded.char_to_token(i, e["answer_start"], sequence_index=1) for i, e in enumerate(batch)]
    ends = [
        encoded.char_to_token(i, e["answer_start"] + len(e["answer"]) - 1, sequence_index=1)
        for i, e in enumerate(batch)
    ]
    encoded["start_positions"], encoded["end_positions"] = torch.tensor(starts), torch.tensor(ends)
    context = torch.tensor([[sid == 1 for sid in encoded.sequence_ids(i)] for i in range(len(batch))])
    return encoded, context


def exact_match(model, tokenizer, examples: list[dict]) -> float:
    """The best span (start <= end < start + 8) inside the context is the answer's span."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for first in range(0, len(examples), 128):
            inputs, context = encode(tokenizer, examples[first : first + 128])
            gold_start, gold_end = inputs.pop("start_positions"), inputs.pop("end_positions")
            out = model(**inputs)
            scores = (
                out.start_logits.masked_fill(~context, -1e9)[:, :, None]
                + out.end_logits.masked_fill(~context, -1e9)[:, None, :]
            )
            positions = torch.arange(scores.shape[1])
            allowed = (positions[None, :] >= positions[:, None]) & (positions[None, :] < positions[:, None] + 8)
            best = scores.masked_fill(~allowed, -1e18).flatten(1).argmax(-1)
            correct += ((best // scores.shape[1] == gold_start) & (best % scores.shape[1] == gold_end)).sum().item()
    return correct / len(examples)


# ---------------------------------------------------------------- the run


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="LinkBERT vs BERT-style pretraining on a synthetic cross-document task", allow_abbrev=False
    )
    parser.add_argument("--output_dir", default="runs/bench/pretrain_multihop")
    parser.add_argument("--people", type=int, default=8000)
    parser.add_argument("--cities", type=int, default=2000)
    parser.add_argument("--countries", type=int, default=10)
    parser.add_argument("--vocab_size", type=int, default=12000, help="Large enough for every name to be one wordpiece")
    parser.add_argument("--hidden_size", type=int, default=128)
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--num_heads", type=int, default=4)
    parser.add_argument("--pretrain_steps", type=int, default=2000)
    parser.add_argument("--pretrain_lr", type=float, default=1e-3)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--mlm_probability", type=float, default=0.15)
    parser.add_argument("--cloze_examples", type=int, default=500)
    parser.add_argument("--finetune_train", type=int, default=3000)
    parser.add_argument("--finetune_test", type=int, default=1000)
    parser.add_argument("--finetune_epochs", type=int, default=2)
    parser.add_argument("--finetune_lr", type=float, default=1e-3)
    parser.add_argument("--finetune_seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads; 1 avoids oversubscribing a shared 2-core machine"
    )
    return parser.parse_args(argv)


def evaluate(variant: str, info: dict, world: dict, train: list[dict], test: list[dict], args) -> dict:
    checkpoint = info["checkpoint"]
    info["cloze_1_city"] = cloze(checkpoint, world, random.Random(args.seed + 2), args.cloze_examples, distractor=False)
    info["cloze_2_cities"] = cloze(
        checkpoint, world, random.Random(args.seed + 3), args.cloze_examples, distractor=True
    )
    scores = [finetune(checkpoint, train, test, seed, args) for seed in args.finetune_seeds]
    info.update(
        qa_exact_match=scores,
        qa_mean=statistics.mean(scores),
        qa_stdev=statistics.stdev(scores) if len(scores) > 1 else 0.0,
    )
    print(
        f"{variant}: pairs {info['pair_counts']}; final mlm {info['mlm_loss']:.3f}, drp acc "
        f"{info['drp_accuracy']:.3f}; "
        f"cloze 1 city {info['cloze_1_city']:.3f}, 2 cities {info['cloze_2_cities']:.3f} (chance "
        f"{1 / args.countries:.3f}); "
        f"QA EM {' '.join(f'{s:.3f}' for s in scores)} (mean {info['qa_mean']:.3f} +- {info['qa_stdev']:.3f})",
        flush=True,
    )
    return info


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    started = time.time()
    import torch

    from linkbert.tools.tiny_bert import build_tiny_bert

    torch.set_num_threads(args.threads)
    out = Path(args.output_dir)
    rng = random.Random(args.seed)
    world = make_world(rng, args.countries, args.cities, args.people)
    docs = corpus_docs(world, rng)
    docs_path = out / "corpus.jsonl"
    write_jsonl(docs_path, docs)
    qa_rng = random.Random(args.seed + 1)
    train = [qa_example(qa_rng, world, i) for i in range(args.finetune_train)]
    test = [qa_example(qa_rng, world, i) for i in range(args.finetune_train, args.finetune_train + args.finetune_test)]
    texts = [d["text"] for d in docs] + [e["question"] + " " + e["context"] for e in train[:500]]
    init = build_tiny_bert(
        out / "init",
        texts,
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        intermediate_size=4 * args.hidden_size,
        max_position_embeddings=128,
        seed=args.seed,
    )
    report = {
        "command": ["python", "bench/pretrain_multihop.py", *argv],
        "settings": vars(args),
        "documents": len(docs),
        "models": {},
    }
    for variant in ("bert", "linkbert"):
        report["models"][variant] = evaluate(
            variant, pretrain(variant, docs_path, init, out, args), world, train, test, args
        )
    report["seconds"] = time.time() - started
    with atomic_output(out / "results.json") as handle:
        json.dump(report, handle, indent=2)
    bert, link = report["models"]["bert"], report["models"]["linkbert"]
    print(
        f"linkbert - bert: cloze 1 city {link['cloze_1_city'] - bert['cloze_1_city']:+.3f}, 2 cities "
        f"{link['cloze_2_cities'] - bert['cloze_2_cities']:+.3f}; "
        f"QA EM {link['qa_mean'] - bert['qa_mean']:+.3f} (seed stdev {bert['qa_stdev']:.3f} / "
        f"{link['qa_stdev']:.3f}); {report['seconds']:.0f} s; {out / 'results.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
