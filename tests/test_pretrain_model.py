"""LinkBertForPreTraining, the MLM collator and run_pretrain's checkpoints: loading from BERT,
losses, save/reload round trip, fine-tuning heads, masking statistics, exact resume."""

import json
import random
import shutil

import pyarrow as pa
import pytest
import torch
from helpers import build_pairs, run_pretrain, write_jsonl

from linkbert.cli import flags
from linkbert.pretrain.args import learning_rate_at
from linkbert.pretrain.collator import PretrainCollator
from linkbert.pretrain.model import LinkBertForPreTraining, from_config

WORDS = "north south river hill town boat sheep wool honey storm bridge lamp ferry harbour".split()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny BERT (BertForPreTraining weights, 2-way NSP head) trained on a 30-document linked
    corpus, and that corpus built into pairs."""
    from linkbert.tools.tiny_bert import build_tiny_bert

    root = tmp_path_factory.mktemp("pretrain_model")
    rng = random.Random(0)
    docs = []
    for i in range(30):
        text = " ".join(" ".join(rng.choices(WORDS, k=rng.randint(4, 8))) + "." for _ in range(rng.randint(2, 5)))
        docs.append({"id": f"d{i}", "text": text, "links": [f"d{j}" for j in rng.sample(range(30), 2)]})
    corpus = write_jsonl(root / "corpus.jsonl", docs)
    bert = build_tiny_bert(root / "bert", [d["text"] for d in docs], vocab_size=120, seed=0)
    pairs = root / "pairs"
    assert (
        build_pairs(
            flags(
                corpus=corpus,
                tokenizer=bert,
                output_dir=pairs,
                max_seq_length="32",
                segment_length="14",
                dupe_factor="2",
            )
        )
        == 0
    )
    return {"root": root, "bert": bert, "pairs": pairs}


def batch_of(setup, size=8, seed=0):
    from transformers import AutoTokenizer

    from linkbert.pretrain.shards import load_table, read_manifest, shard_paths

    tokenizer = AutoTokenizer.from_pretrained(setup["bert"])
    rows = load_table(shard_paths(setup["pairs"], read_manifest(setup["pairs"]))).slice(0, size)
    collator = PretrainCollator.for_tokenizer(tokenizer, torch.Generator().manual_seed(seed), mlm_probability=0.3)
    return collator(rows)


def test_init_from_bert_loads_encoder_and_mlm_head_but_not_nsp(setup):
    from transformers import BertForPreTraining

    bert = BertForPreTraining.from_pretrained(setup["bert"])
    model, info = LinkBertForPreTraining.from_pretrained(setup["bert"], output_loading_info=True)
    assert set(info["missing_keys"]) == {"cls.drp.weight", "cls.drp.bias"}
    assert set(info["unexpected_keys"]) == {"cls.seq_relationship.weight", "cls.seq_relationship.bias"}
    theirs = bert.state_dict()
    for name, value in model.state_dict().items():
        if not name.startswith("cls.drp"):
            torch.testing.assert_close(value, theirs[name], msg=name)
    assert model.cls.drp.weight.shape == (3, model.config.hidden_size)
    assert not torch.equal(model.cls.drp.weight[:2], bert.cls.seq_relationship.weight)
    assert model.cls.predictions.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()


def test_from_config_is_reproducible_and_leaves_global_rng_alone(setup):
    config = LinkBertForPreTraining.from_pretrained(setup["bert"]).config
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = from_config(config, seed=5), from_config(config, seed=5)
    assert torch.equal(torch.rand(3), expected)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    assert not torch.equal(from_config(config, seed=6).cls.drp.weight, a.cls.drp.weight)


def test_losses_mlm_on_masked_positions_plus_unweighted_drp(setup):
    model = LinkBertForPreTraining.from_pretrained(setup["bert"]).eval()
    batch = batch_of(setup)
    with torch.no_grad():
        out = model(**batch)
        full = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    # the full-vocabulary logits at every position, scored with ignore_index, give the same MLM loss
    vocab = full.mlm_logits.shape[-1]
    expected_mlm = torch.nn.functional.cross_entropy(
        full.mlm_logits.reshape(-1, vocab), batch["labels"].reshape(-1), ignore_index=-100
    )
    expected_drp = torch.nn.functional.cross_entropy(full.drp_logits, batch["drp_labels"])
    torch.testing.assert_close(out.mlm_loss, expected_mlm)
    torch.testing.assert_close(out.drp_loss, expected_drp)
    torch.testing.assert_close(out.loss, expected_mlm + expected_drp)
    none_masked = model(
        batch["input_ids"], labels=torch.full_like(batch["labels"], -100), drp_labels=batch["drp_labels"]
    )
    assert none_masked.mlm_loss.item() == 0.0 and torch.isfinite(none_masked.loss)


def test_save_and_reload_round_trip_after_training(setup, tmp_path):
    torch.manual_seed(0)
    model = LinkBertForPreTraining.from_pretrained(setup["bert"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for step in range(3):
        model(**batch_of(setup, seed=step)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(tmp_path / "saved")
    reloaded, info = LinkBertForPreTraining.from_pretrained(tmp_path / "saved", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    trained = dict(model.named_parameters())
    assert set(trained) == set(dict(reloaded.named_parameters()))
    for name, param in reloaded.named_parameters():
        torch.testing.assert_close(param, trained[name], msg=name)
    assert (
        reloaded.cls.predictions.decoder.weight.data_ptr() == reloaded.bert.embeddings.word_embeddings.weight.data_ptr()
    )
    # the decoder really was trained together with the embeddings (tied), not left at its start
    start = LinkBertForPreTraining.from_pretrained(setup["bert"])
    assert not torch.equal(start.bert.embeddings.word_embeddings.weight, reloaded.cls.predictions.decoder.weight)


# ---------------------------------------------------------------- collator


def test_masking_proportions_and_special_tokens(setup):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(setup["bert"])
    special = set(tokenizer.all_special_ids)
    normal = [i for i in range(len(tokenizer)) if i not in special]
    rng = random.Random(0)
    features = []
    for _ in range(400):
        a, b = rng.choices(normal, k=rng.randint(20, 60)), rng.choices(normal, k=rng.randint(20, 60))
        ids = [tokenizer.cls_token_id, *a, tokenizer.sep_token_id, *b, tokenizer.sep_token_id]
        features.append(
            {
                "input_ids": ids,
                "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
                "pair_label": rng.randrange(3),
            }
        )
    collator = PretrainCollator.for_tokenizer(tokenizer, torch.Generator().manual_seed(0))
    batch = collator(pa.Table.from_pylist(features))
    original = torch.full_like(batch["input_ids"], tokenizer.pad_token_id)
    for row, feature in enumerate(features):
        original[row, : len(feature["input_ids"])] = torch.tensor(feature["input_ids"])
    assert batch["input_ids"].shape[1] == max(len(f["input_ids"]) for f in features)  # dynamic padding
    eligible = ~torch.isin(original, torch.tensor(sorted(special)))
    chosen = batch["labels"] != -100
    assert not (chosen & ~eligible).any()  # [CLS], [SEP], [PAD] never chosen
    assert torch.equal(batch["labels"][chosen], original[chosen])
    assert torch.equal(batch["input_ids"][~chosen], original[~chosen])
    n_eligible, n_chosen = eligible.sum().item(), chosen.sum().item()
    assert abs(n_chosen / n_eligible - 0.15) < 0.01  # ~31k eligible tokens: std 0.002
    masked = (batch["input_ids"][chosen] == tokenizer.mask_token_id).float().mean().item()
    unchanged = (batch["input_ids"][chosen] == original[chosen]).float().mean().item()
    replaced = 1 - masked - unchanged
    # a random replacement equal to the original counts as unchanged: 0.1 / len(normal) of chosen
    assert abs(masked - 0.8) < 0.02 and abs(replaced - 0.1) < 0.015 and abs(unchanged - 0.1) < 0.015
    assert not torch.isin(batch["input_ids"][chosen], torch.tensor(sorted(special - {tokenizer.mask_token_id}))).any()
    assert torch.equal(batch["drp_labels"], torch.tensor([f["pair_label"] for f in features]))
    assert torch.equal(batch["attention_mask"].sum(1), torch.tensor([len(f["input_ids"]) for f in features]))


def test_learning_rate_warmup_then_linear_decay():
    # peak 1.0, 4 warmup steps, 12 steps: 0.25, 0.5, 0.75, 1.0, then (12 - s) / 8
    assert [learning_rate_at(s, 1.0, 4, 12) for s in range(12)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
        0.875,
        0.75,
        0.625,
        0.5,
        0.375,
        0.25,
        0.125,
    ]


# ---------------------------------------------------------------- run_pretrain checkpoints


def pretrain_argv(setup, out, *extra):
    return [
        *flags(
            model_name_or_path=setup["bert"],
            train_dir=setup["pairs"],
            output_dir=out,
            max_steps="6",
            per_device_train_batch_size="4",
            gradient_accumulation_steps="2",
            learning_rate="5e-3",
            warmup_steps="2",
            logging_steps="1",
            save_steps="3",
            seed="1",
        ),
        *extra,
    ]


def parameters(directory):
    return dict(LinkBertForPreTraining.from_pretrained(directory).named_parameters())


@pytest.mark.slow
def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(setup, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_pretrain(pretrain_argv(setup, straight)) == 0
    assert run_pretrain(pretrain_argv(setup, resumed)) == 0
    # simulate a job killed after the step-3 checkpoint
    shutil.rmtree(resumed / "checkpoint-6")
    (resumed / "model.safetensors").unlink()
    assert json.loads((resumed / "checkpoint-3" / "trainer_state.json").read_text())["global_step"] == 3
    assert run_pretrain(pretrain_argv(setup, resumed)) == 0
    results = json.loads((resumed / "train_results.json").read_text())
    assert results["global_step"] == 6 > 3 and results["steps_this_run"] == 3
    assert json.loads((resumed / "checkpoint-6" / "trainer_state.json").read_text())["global_step"] == 6
    steps = [json.loads(line)["step"] for line in (resumed / "pretrain_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    # same data order, masks, dropout and optimizer state after resuming: the same weights
    expected = parameters(straight)
    for name, param in parameters(resumed).items():
        torch.testing.assert_close(param, expected[name], msg=name)


def test_resume_to_more_steps_and_refusals(setup, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_pretrain(pretrain_argv(setup, out)) == 0
    capsys.readouterr()
    # a rerun with other settings does not silently continue the old run
    assert run_pretrain(pretrain_argv(setup, out, "--max_steps", "8", "--save_steps", "100")) == 2
    err = capsys.readouterr().err
    assert "max_steps: 6 -> 8" in err and "save_steps" not in err and "--overwrite_output_dir" in err
    # naming the checkpoint says "continue this run for longer"
    assert (
        run_pretrain(
            pretrain_argv(setup, out, "--max_steps", "8", "--save_steps", "100", "--resume_from_checkpoint", "last")
        )
        == 0
    )
    assert json.loads((out / "checkpoint-8" / "trainer_state.json").read_text())["global_step"] == 8
    # a directory with files but no checkpoint is not overwritten silently
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    assert run_pretrain(pretrain_argv(setup, tmp_path / "busy")) == 2
    assert "overwrite_output_dir" in capsys.readouterr().err


def test_refuses_shards_built_with_another_tokenizer(setup, tmp_path, capsys):
    from linkbert.tools.tiny_bert import build_tiny_bert

    other = build_tiny_bert(tmp_path / "other", ["completely different words here"] * 10, vocab_size=60)
    assert run_pretrain(pretrain_argv(setup, tmp_path / "out", "--model_name_or_path", str(other))) == 2
    assert "vocabulary differs" in capsys.readouterr().err


def test_gradient_norm_is_read_on_the_host_only_on_logged_steps(setup, tmp_path, monkeypatch):
    """Reading a CUDA tensor (float, .item(), bool) waits for the step to finish; the loop may do
    that when it logs, not every step. Every norm is wrapped in a tensor subclass that records the
    step at which any value derived from it is read."""
    norms, reads = [], []

    class WatchedNorm(torch.Tensor):
        def item(self):
            reads.append(len(norms))
            return super().item()

        def __float__(self):
            reads.append(len(norms))
            return super().__float__()

        def __bool__(self):
            reads.append(len(norms))
            return super().__bool__()

        def tolist(self):
            reads.append(len(norms))
            return super().tolist()

    clip = torch.nn.utils.clip_grad_norm_

    def watched_clip(*args, **kwargs):
        norms.append(clip(*args, **kwargs).as_subclass(WatchedNorm))
        return norms[-1]

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", watched_clip)
    out = tmp_path / "run"
    assert run_pretrain(pretrain_argv(setup, out, "--logging_steps", "3", "--save_steps", "100")) == 0
    monkeypatch.undo()
    steps_read = sorted(set(reads))
    assert len(norms) == 6 and steps_read == [3, 6]
    log = [json.loads(line) for line in (out / "pretrain_log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in log] == [3, 6]
    for record in log:
        assert record["grad_norm"] == pytest.approx(norms[record["step"] - 1].as_subclass(torch.Tensor).item())
        assert record["loss"] == pytest.approx(record["mlm_loss"] + record["drp_loss"])
        assert sum(record[f"drp_count_{name}"] for name in ("contiguous", "random", "linked")) == 3 * 4 * 2


def test_a_non_finite_gradient_norm_stops_the_run_at_the_next_check():
    from linkbert.errors import LinkBertError
    from linkbert.pretrain.train import NormCheck

    norms = NormCheck(torch.device("cpu"), step=10, check=True)
    norms.add(torch.tensor(1.5))
    norms.add(torch.tensor(0.2))
    norms.check(12)  # finite: no error, the window now starts after step 12
    norms.add(torch.tensor(float("nan")))
    norms.add(torch.tensor(3.0))  # a finite norm after a NaN does not clear it
    with pytest.raises(LinkBertError, match="steps 13-14: the gradient norm was not finite"):
        norms.check(14)
    # with a loss scaler (fp16) inf / NaN steps are skipped by the scaler: no check
    scaled = NormCheck(torch.device("cpu"), step=0, check=False)
    scaled.add(torch.tensor(float("inf")))
    scaled.check(1)


def test_cudnn_attention_is_turned_off_for_dynamic_padding_on_cuda(monkeypatch):
    """Each micro-batch has its own length; cuDNN attention plans every new length (~140 ms on H100)."""
    from linkbert.pretrain.train import configure_attention

    calls = []
    monkeypatch.setattr(torch.backends.cuda, "enable_cudnn_sdp", calls.append)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    configure_attention()
    assert calls == []  # nothing to change without CUDA
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    configure_attention()
    assert calls == [False]
