"""Prediction under CUDA graphs (--torch_compile_mode reduce-overhead): every prediction step is
marked as a new graph step and its outputs are copied out of the graph's memory before the next
replay overwrites it. The replay itself needs a GPU (bench/gpu_run.sh); what the step does around
it is checked here with a stand-in that, like a CUDA graph, reuses one output buffer."""

from types import SimpleNamespace

import pytest
import torch

from linkbert.finetune.trainer import cuda_graph_step, uses_cuda_graphs


@pytest.mark.parametrize(
    ("compile_flag", "mode", "expected"),
    [
        (True, "reduce-overhead", True),
        (True, "max-autotune", True),
        (True, "max-autotune-no-cudagraphs", False),
        (True, "default", False),
        (True, None, False),
        (False, "reduce-overhead", False),
    ],
)
def test_which_compile_modes_replay_cuda_graphs(compile_flag, mode, expected):
    assert uses_cuda_graphs(SimpleNamespace(torch_compile=compile_flag, torch_compile_mode=mode)) is expected


def test_each_step_is_marked_and_its_outputs_survive_the_next_replay(monkeypatch):
    events = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: events.append("mark"))
    buffer = torch.zeros(2, 3)  # one output memory for every replay, as a recorded graph has

    def replay(value: float):
        events.append("replay")
        buffer.fill_(value)
        return torch.tensor(value), (buffer,), {"labels": buffer[:, 0]}

    first = cuda_graph_step(lambda: replay(1.0))
    second = cuda_graph_step(lambda: replay(2.0))
    assert events == ["mark", "replay", "mark", "replay"]
    assert first[0].item() == 1.0
    assert torch.equal(first[1][0], torch.ones(2, 3))  # not overwritten by the second replay
    assert torch.equal(first[2]["labels"], torch.ones(2))
    assert torch.equal(second[1][0], torch.full((2, 3), 2.0))
    assert isinstance(first[1], tuple) and isinstance(first[2], dict)
