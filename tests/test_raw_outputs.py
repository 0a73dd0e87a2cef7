"""Raw test logits are stored unpadded in an .npz beside a small JSON index and read back exactly."""

import json
from types import SimpleNamespace

import numpy as np

from linkbert.finetune.raw_outputs import load_raw_outputs, raw_outputs


def test_token_rows_lose_their_padding_and_come_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    lengths = [5, 2, 7]
    logits = np.full((3, 7, 4), -100.0, dtype=np.float32)  # the Trainer pads across batches with -100
    labels = np.full((3, 7), -100, dtype=np.int64)
    for row, length in enumerate(lengths):
        logits[row, :length] = rng.normal(size=(length, 4))
        labels[row, :length] = rng.integers(0, 4, size=length)
    output = SimpleNamespace(predictions=(logits, "hidden states"), label_ids=labels)
    raw_outputs(output, lengths=lengths, word_ids=[[None, 0, 1, 2, None], [None, None], [None] + list(range(6))]).save(
        tmp_path / "test_outputs.json"
    )
    back = load_raw_outputs(tmp_path / "test_outputs.json")
    assert [row.shape for row in back.predictions] == [(5, 4), (2, 4), (7, 4)]
    for row, length in enumerate(lengths):
        np.testing.assert_array_equal(back.predictions[row], logits[row, :length])
        np.testing.assert_array_equal(back.label_ids[row], labels[row, :length])
    assert back.extra["word_ids"][1] == [None, None]
    index = json.loads((tmp_path / "test_outputs.json").read_text())
    assert index["arrays"] == "test_outputs.npz" and index["examples"] == 3 and "predictions" not in index


def test_example_rows_keep_float_labels_and_the_original_json_still_reads(tmp_path):
    logits = np.array([[0.5], [1.5], [-2.0]], dtype=np.float32)
    targets = np.array([0.25, 4.5, 3.0])  # regression (BIOSSES): float labels must stay floats
    raw_outputs(SimpleNamespace(predictions=logits, label_ids=targets)).save(tmp_path / "test_outputs.json")
    back = load_raw_outputs(tmp_path / "test_outputs.json")
    np.testing.assert_array_equal(np.stack(back.predictions), logits)
    assert [float(label) for label in back.label_ids] == [0.25, 4.5, 3.0]
    # a run of an older version wrote the original's JSON: read the same way
    legacy = {"predictions": [[0.1, 0.9], [0.8, 0.2]], "label_ids": [1, 0]}
    (tmp_path / "old.json").write_text(json.dumps(legacy))
    old = load_raw_outputs(tmp_path / "old.json")
    assert np.stack(old.predictions).tolist() == legacy["predictions"] and [int(x) for x in old.label_ids] == [1, 0]
