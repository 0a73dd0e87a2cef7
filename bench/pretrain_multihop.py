"""Does pretraining on linked pairs teach knowledge that spans documents? LinkBERT vs BERT-style
pretraining on one synthetic world, probed on that same world (CPU, toy scale). A benchmark, not a test.

The world (ACL §1's motivating case: a fact about X on X's page, the next hop on a linked page):
- person pages: "P was born in C. P works as a T." linking to C's page;
- city pages: "C is a city in Y. C is known for its F." (no links);
every fact is stated exactly once in the corpus, names are single wordpieces, cities are spread
evenly over the countries and people evenly over the cities. "Which country was P born in?" needs
both pages: P -> C is only on P's page, C -> Y only on C's page.

Two BERTs per seed start from the same random initialisation and get the same compute (steps,
batch, masking, sequence length, the same documents and anchors); they differ only in the pairs
built by build_pairs (ACL §4):
- bert: contiguous + random (`--no_links`, BERT's next-sentence pairs); P and Y are never in one
  input;
- linkbert: contiguous + random + linked; a linked pair puts a segment of P's page next to a segment
  of C's page.

Probes, all on the pretraining world (candidates: the country / city wordpieces; chance printed):
1. hop 1, zero-shot: "P was born in [MASK] ." among the cities (the fact as the corpus states it);
2. hop 2, zero-shot: "C is a city in [MASK] ." among the countries;
3. two-hop, fine-tuned, closed book (the main measure): the MLM head is fine-tuned to answer
   "P was born in a city in [MASK] ." among the countries for the people of half of each country's
   cities (--test_fraction), then tested on the people of the held-out cities. Held-out
   cities matter: with them in the fine-tuning set the head could learn C -> Y there and need only
   hop 1 from pretraining. The input never names C, so the answer must come from the weights: by
   composing the two memorised hops, or from the P-Y co-occurrence that only linked pairs provide;
4. two-hop, zero-shot, in the linked-pair format: "[CLS] P was born in [MASK] . [SEP] [MASK] is a
   city in [MASK] . [SEP]", the last mask among the countries (BERT never saw such a pair except
   as a random one, so this one favours LinkBERT by construction; reported for completeness).

    python bench/pretrain_multihop.py                                  # about 13 CPU-minutes, 1 thread
    python bench/pretrain_multihop.py --smoke --output_dir /tmp/mh     # under a minute: it runs, numbers mean nothing

Writes OUTPUT_DIR/results.json: the command, settings, per seed and model the probe accuracies, the
pretraining losses and token counts, and mean +- sample standard deviation over seeds.
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
FEATURES = "harbour bridge market castle river temple garden tower".split()
VARIANTS = ("bert", "linkbert")
TWO_HOP_QUERY = "{person} was born in a city in {mask} ."


# ---------------------------------------------------------------- the world and its corpus


def unique_names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    names = []
    while len(names) < count:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def make_world(rng: random.Random, countries: int, cities: int, people: int) -> dict:
    """Cities dealt evenly to countries, people evenly to cities (so every answer is equally likely
    and chance is 1 / countries)."""
    if cities % countries or people % cities:
        raise ValueError(f"--cities ({cities}) must be a multiple of --countries, --people ({people}) of --cities")
    taken = set(SYLLABLES) | set(TRADES) | set(FEATURES)
    world = {
        "countries": unique_names(rng, countries, taken),
        "cities": unique_names(rng, cities, taken),
        "people": unique_names(rng, people, taken),
    }
    world["country_of"] = {city: world["countries"][i % countries] for i, city in enumerate(world["cities"])}
    world["city_of"] = {person: world["cities"][i % cities] for i, person in enumerate(world["people"])}
    return world


def corpus_docs(world: dict, rng: random.Random) -> list[dict]:
    """One page per person (linking to the birth city) and per city; each fact appears once."""
    docs = [
        {
            "id": f"person:{person}",
            "text": f"{person} was born in {city}. {person} works as a {rng.choice(TRADES)}.",
            "links": [f"city:{city}"],
        }
        for person, city in world["city_of"].items()
    ]
    docs += [
        {
            "id": f"city:{city}",
            "text": f"{city} is a city in {country}. {city} is known for its {rng.choice(FEATURES)}.",
            "links": [],
        }
        for city, country in world["country_of"].items()
    ]
    return docs


def split_cities(world: dict, rng: random.Random, test_fraction: float) -> tuple[set[str], set[str]]:
    """Fine-tuning and held-out cities, the same share of each country's cities in both."""
    train, test = set(), set()
    for country in world["countries"]:
        cities = sorted(c for c, y in world["country_of"].items() if y == country)
        rng.shuffle(cities)
        held_out = max(1, round(test_fraction * len(cities)))
        test.update(cities[:held_out])
        train.update(cities[held_out:])
    return train, test


# ---------------------------------------------------------------- pretraining (public entry points only)


def pretrain(variant: str, seed: int, docs_path: Path, init: Path, out: Path, args) -> dict:
    from linkbert.pretrain.build import main as build_main
    from linkbert.pretrain.train import main as train_main

    pairs = out / f"pairs-{variant}-seed{seed}"
    build = flags(
        corpus=docs_path,
        tokenizer=init,
        output_dir=pairs,
        max_seq_length=args.max_seq_length,
        segment_unit="sentence",
        dupe_factor=args.dupe_factor,
        seed=seed,
        no_links=variant == "bert",
        overwrite_output_dir=True,
    )
    if build_main(build) != 0:
        raise RuntimeError(f"build_pairs failed for {variant} seed {seed}")
    model = out / f"model-{variant}-seed{seed}"
    train = flags(
        model_name_or_path=init,
        train_dir=pairs,
        output_dir=model,
        max_steps=args.pretrain_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.pretrain_lr,
        warmup_steps=0.06,
        weight_decay=0.01,
        adam_beta2=0.98,
        logging_steps=max(1, args.pretrain_steps // 10),
        save_steps=args.pretrain_steps,
        seed=seed,
        mlm_probability=args.mlm_probability,
        overwrite_output_dir=True,
    )
    if train_main(train) != 0:
        raise RuntimeError(f"run_pretrain failed for {variant} seed {seed}")
    results = json.loads((model / "train_results.json").read_text())
    manifest = json.loads((pairs / "manifest.json").read_text())
    keep = ("mlm_loss", "drp_loss", "drp_accuracy", "train_runtime")
    return {
        "checkpoint": str(model),
        **{key: results.get(key) for key in keep},
        "pair_counts": manifest["pair_counts"],
        "tokens_seen": tokens_seen(model / "pretrain_log.jsonl", args),
    }


def tokens_seen(log: Path, args) -> int | None:
    """Non-padding tokens trained on: each logging window's mean instance length x its instances."""
    if not log.is_file():
        return None
    total, previous = 0.0, 0
    for line in log.read_text().splitlines():
        record = json.loads(line)
        total += record["mean_length"] * args.batch_size * (record["step"] - previous)
        previous = record["step"]
    return round(total) if previous == args.pretrain_steps else None


# ---------------------------------------------------------------- probes


def single_token_ids(tokenizer, words: list[str], what: str) -> list[int]:
    pieces = [tokenizer.tokenize(word) for word in words]
    bad = [word for word, piece in zip(words, pieces, strict=True) if len(piece) != 1]
    if bad:
        raise ValueError(f"every {what} must be one wordpiece for the cloze; split: {bad[:5]} (raise --vocab_size)")
    return tokenizer.convert_tokens_to_ids([piece[0] for piece in pieces])


def candidate_logits(model, tokenizer, texts: list, candidate_ids: list[int], mask_index: int = -1):
    """MLM logits of the candidates at the `mask_index`-th [MASK] of each text (or text pair)."""
    import torch

    firsts = [t if isinstance(t, str) else t[0] for t in texts]
    seconds = None if isinstance(texts[0], str) else [t[1] for t in texts]
    encoded = tokenizer(firsts, seconds, padding=True, return_tensors="pt")
    logits = model(**encoded).logits
    masks = encoded["input_ids"] == tokenizer.mask_token_id
    rows = torch.arange(len(texts))
    columns = torch.stack([row.nonzero()[mask_index, 0] for row in masks])
    return logits[rows, columns][:, torch.tensor(candidate_ids)]


def cloze_accuracy(model, tokenizer, texts: list, gold: list[int], candidate_ids: list[int], mask_index=-1) -> float:
    import torch

    model.eval()
    hits = 0
    with torch.no_grad():
        for start in range(0, len(texts), 256):
            logits = candidate_logits(model, tokenizer, texts[start : start + 256], candidate_ids, mask_index)
            hits += (logits.argmax(-1) == torch.tensor(gold[start : start + 256])).sum().item()
    return hits / len(texts)


def two_hop_examples(world: dict, cities: set[str], mask: str) -> tuple[list[str], list[int]]:
    people = [p for p, c in world["city_of"].items() if c in cities]
    texts = [TWO_HOP_QUERY.format(person=p, mask=mask) for p in people]
    gold = [world["countries"].index(world["country_of"][world["city_of"][p]]) for p in people]
    return texts, gold


def finetune_two_hop(checkpoint: str, world: dict, train_cities: set, test_cities: set, seed: int, args) -> dict:
    """Fine-tune the whole model through its MLM head (cross-entropy over the countries at [MASK])
    on the fine-tuning cities' people; accuracy on the held-out cities' people."""
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    country_ids = single_token_ids(tokenizer, world["countries"], "country")
    train_texts, train_gold = two_hop_examples(world, train_cities, tokenizer.mask_token)
    test_texts, test_gold = two_hop_examples(world, test_cities, tokenizer.mask_token)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForMaskedLM.from_pretrained(checkpoint)
        before = cloze_accuracy(model, tokenizer, test_texts, test_gold, country_ids)
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.finetune_lr, weight_decay=0.01)
        order = torch.Generator().manual_seed(seed)
        for _ in range(args.finetune_epochs):
            model.train()
            permutation = torch.randperm(len(train_texts), generator=order).tolist()
            for start in range(0, len(permutation), args.finetune_batch_size):
                batch = permutation[start : start + args.finetune_batch_size]
                logits = candidate_logits(model, tokenizer, [train_texts[i] for i in batch], country_ids)
                loss = torch.nn.functional.cross_entropy(logits, torch.tensor([train_gold[i] for i in batch]))
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
    return {
        "two_hop_zero_shot": before,
        "two_hop_finetuned_train": cloze_accuracy(model, tokenizer, train_texts, train_gold, country_ids),
        "two_hop_finetuned_test": cloze_accuracy(model, tokenizer, test_texts, test_gold, country_ids),
        "n_finetune": len(train_texts),
        "n_test": len(test_texts),
    }


def zero_shot_probes(checkpoint: str, world: dict, test_cities: set) -> dict:
    from transformers import AutoTokenizer, BertForMaskedLM

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = BertForMaskedLM.from_pretrained(checkpoint)
    mask = tokenizer.mask_token
    city_ids = single_token_ids(tokenizer, world["cities"], "city")
    country_ids = single_token_ids(tokenizer, world["countries"], "country")
    people = list(world["city_of"])
    test_people = [p for p in people if world["city_of"][p] in test_cities]
    return {
        "hop1_person_city": cloze_accuracy(
            model,
            tokenizer,
            [f"{p} was born in {mask} ." for p in people],
            [world["cities"].index(world["city_of"][p]) for p in people],
            city_ids,
        ),
        "hop2_city_country": cloze_accuracy(
            model,
            tokenizer,
            [f"{c} is a city in {mask} ." for c in world["cities"]],
            [world["countries"].index(world["country_of"][c]) for c in world["cities"]],
            country_ids,
        ),
        "two_hop_linked_format": cloze_accuracy(
            model,
            tokenizer,
            [(f"{p} was born in {mask} .", f"{mask} is a city in {mask} .") for p in test_people],
            [world["countries"].index(world["country_of"][world["city_of"][p]]) for p in test_people],
            country_ids,
        ),
    }


# ---------------------------------------------------------------- the run


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="LinkBERT vs BERT-style pretraining, probed for two-hop knowledge on the same world",
        allow_abbrev=False,
    )
    parser.add_argument("--output_dir", default="runs/bench/pretrain_multihop")
    parser.add_argument("--smoke", action="store_true", help="A tiny world and few steps: checks that it runs")
    parser.add_argument("--countries", type=int, default=6)
    parser.add_argument("--cities", type=int, default=24)
    parser.add_argument("--people", type=int, default=144)
    parser.add_argument("--test_fraction", type=float, default=0.5, help="Share of each country's cities held out")
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--num_layers", type=int, default=4)
    parser.add_argument("--num_heads", type=int, default=4)
    parser.add_argument("--max_seq_length", type=int, default=32)
    parser.add_argument("--dupe_factor", type=int, default=20, help="build_pairs passes over the anchors")
    parser.add_argument("--pretrain_steps", type=int, default=3000)
    parser.add_argument("--pretrain_lr", type=float, default=3e-3)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--mlm_probability", type=float, default=0.15)
    parser.add_argument("--finetune_epochs", type=int, default=20)
    parser.add_argument("--finetune_batch_size", type=int, default=16)
    parser.add_argument("--finetune_lr", type=float, default=2e-4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Pretraining (and fine-tuning) seeds")
    parser.add_argument("--world_seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads; 1 avoids oversubscribing a shared 2-core machine"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.countries, args.cities, args.people = 4, 8, 40
        args.hidden_size, args.num_layers, args.pretrain_steps, args.dupe_factor = 32, 4, 20, 2
        args.finetune_epochs, args.seeds = 1, args.seeds[:2]
    return args


def build_init(out: Path, docs: list[dict], seed: int, args) -> Path:
    from linkbert.tools.tiny_bert import build_tiny_bert

    words = {w for d in docs for w in d["text"].replace(".", " ").split()}
    return build_tiny_bert(
        out / f"init-seed{seed}",
        [d["text"] for d in docs],
        vocab_size=len(words) + 200,  # every word a single wordpiece, plus the characters
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        intermediate_size=4 * args.hidden_size,
        max_position_embeddings=64,
        dropout=0.0,  # memorising facts seen a few dozen times; dropout only slows that down
        seed=seed,
    )


def summarise(runs: list[dict]) -> dict:
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    summary = {}
    for key in keys:
        values = [run[key] for run in runs]
        summary[key] = {
            "mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values,
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    started = time.time()
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()  # the MLM probes drop the DRP head and pooler: expected, not news
    out = Path(args.output_dir)
    rng = random.Random(args.world_seed)
    world = make_world(rng, args.countries, args.cities, args.people)
    docs = corpus_docs(world, rng)
    train_cities, test_cities = split_cities(world, rng, args.test_fraction)
    docs_path = out / "corpus.jsonl"
    write_jsonl(docs_path, docs)
    runs = {variant: [] for variant in VARIANTS}
    for seed in args.seeds:
        init = build_init(out, docs, seed, args)
        for variant in VARIANTS:
            info = pretrain(variant, seed, docs_path, init, out, args)
            info.update(zero_shot_probes(info["checkpoint"], world, test_cities))
            info.update(finetune_two_hop(info["checkpoint"], world, train_cities, test_cities, seed, args))
            info["seed"] = seed
            runs[variant].append(info)
            print(
                f"{variant} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in info.items() if isinstance(v, float))
            )
            # rewritten after every model, so an interrupted run still leaves its finished seeds
            report = write_report(out, argv, args, docs, runs, started)
    print_summary(report)
    return 0


def write_report(out: Path, argv: list[str], args, docs: list[dict], runs: dict, started: float) -> dict:
    finished = {variant: runs[variant] for variant in VARIANTS if runs[variant]}
    report = {
        "command": ["python", "bench/pretrain_multihop.py", *argv],
        "settings": vars(args),
        "documents": len(docs),
        "chance": {"country": 1 / args.countries, "city": 1 / args.cities},
        "runs": runs,
        "summary": {variant: summarise(finished[variant]) for variant in finished},
        "seconds": time.time() - started,
    }
    with atomic_output(out / "results.json") as handle:
        json.dump(report, handle, indent=2)
    return report


def print_summary(report: dict) -> None:
    bert, link = report["summary"]["bert"], report["summary"]["linkbert"]
    print(
        f"mean +- std over seeds {report['settings']['seeds']} (chance: country {report['chance']['country']:.3f}, "
        f"city {report['chance']['city']:.3f}):"
    )
    for key in bert:
        print(
            f"  {key:26s} bert {bert[key]['mean']:.3f} +- {bert[key]['std']:.3f}   "
            f"linkbert {link[key]['mean']:.3f} +- {link[key]['std']:.3f}"
        )
    print(f"{report['seconds']:.0f} s; {Path(report['settings']['output_dir']) / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
