"""ONNX export: the one scoring graph scores a long video like PyTorch under every window
scheme, memory resets included."""

import numpy as np
import pytest
import torch

from convlstm_ae.errors import ExportError
from convlstm_ae.export.onnx import export_score_graph
from convlstm_ae.export.onnx_stream import OnnxStreamScorer
from convlstm_ae.export.session import open_session
from convlstm_ae.model.presets import create_model
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from convlstm_ae.scoring.windows import plan_windows

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("preset", ["tiny", "caffe"])
def test_onnx_runtime_scores_like_pytorch(tmp_path, preset):
    torch.manual_seed(0)
    overrides = dict(frame_size=48, encoder_channels=(4, 8, 8), lstm_channels=8)
    model = create_model(preset, **(overrides if preset == "caffe" else {})).eval()
    model.mean_frame.uniform_(0, 0.5)  # the caffe preset subtracts it
    path = export_score_graph(model, tmp_path / "score.onnx", cell_size=8)
    size = model.config.frame_size
    video = torch.randint(0, 256, (23, 1, size, size), dtype=torch.uint8)
    for t_prime, windows in ((5, "reset"), (6, "overlap"), (None, "reset")):
        expected = reconstruction_errors(model, video, t_prime=t_prime, windows=windows,
                                         cell_size=8)
        scorer = OnnxStreamScorer(open_session(path), 1, t_prime)
        actual = scorer.score_video(video[:, 0].numpy(), plan_windows(23, t_prime, windows))
        for name in ("frame", "patch", "cells"):
            np.testing.assert_allclose(getattr(actual, name), getattr(expected, name).numpy(),
                                       rtol=1e-4, atol=1e-3, err_msg=f"{windows} {name}")
        np.testing.assert_array_equal(actual.history, expected.history.numpy())


def test_conv_ae_has_no_step_to_export(tmp_path):
    with pytest.raises(ExportError, match="x.onnx: only ConvLSTM-AE"):
        export_score_graph(create_model("conv-ae-tiny"), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_unreadable_onnx_file(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not an onnx graph")
    with pytest.raises(ExportError, match="cannot load"):
        open_session(path)


def test_export_of_a_model_on_the_fast_path(tmp_path):
    from convlstm_ae.model.acceleration import accelerate, is_accelerated

    torch.manual_seed(0)
    model = accelerate(create_model("tiny", frame_size=33).eval())  # as load_model on CUDA
    path = export_score_graph(model, tmp_path / "score.onnx")  # checked against PyTorch inside
    assert path.is_file()
    assert is_accelerated(model)  # the caller's model is left as it was


def test_one_call_scores_many_streams_as_the_pytorch_step_does(tmp_path):
    """The graph's batch is free: B streams in one call, their memories reset at different
    frames, equal PyTorch's stream step; a graph of one stream at a time is refused."""
    import onnx

    from convlstm_ae.errors import CheckpointError
    from convlstm_ae.scoring.stream import StreamScorer

    torch.manual_seed(0)
    model = create_model("tiny").eval()
    path = export_score_graph(model, tmp_path / "score.onnx", cell_size=8)
    onnx_scorer = OnnxStreamScorer(open_session(path), 3, 4)
    torch_scorer = StreamScorer(model, 3, t_prime=4, cell_size=8)
    frames = np.random.default_rng(0).integers(0, 256, (9, 3, 64, 64), dtype=np.uint8)
    for step, batch in enumerate(frames):
        if step == 5:  # one stream restarts mid-window
            onnx_scorer.reset([1])
            torch_scorer.reset([1])
        actual, expected = onnx_scorer(batch), torch_scorer(torch.from_numpy(batch))
        np.testing.assert_allclose(actual.frame, expected.frame.cpu().numpy(), rtol=1e-4)
        np.testing.assert_allclose(actual.cells, expected.cells.cpu().numpy(), rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_array_equal(actual.history, expected.history.cpu().numpy())
    graph = onnx.load(path)
    for value in (*graph.graph.input, *graph.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1  # as an earlier export fixed it
    onnx.save(graph, tmp_path / "one.onnx")
    with pytest.raises(CheckpointError, match="one stream at a time"):
        OnnxStreamScorer(open_session(tmp_path / "one.onnx"), 3, 4)
