"""ONNX export: ONNX Runtime scores a long video like PyTorch, memory resets included."""

import pytest
import torch

from convlstm_ae.errors import ExportError
from convlstm_ae.export.onnx import OnnxStepModel, export_onnx, export_score_graph
from convlstm_ae.model.presets import create_model
from convlstm_ae.scoring.reconstruction import reconstruction_errors

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("preset", ["tiny", "caffe"])
def test_onnx_runtime_scores_like_pytorch(tmp_path, preset):
    torch.manual_seed(0)
    overrides = dict(frame_size=48, encoder_channels=(4, 8, 8), lstm_channels=8)
    model = create_model(preset, **(overrides if preset == "caffe" else {})).eval()
    model.mean_frame.uniform_(0, 0.5)  # the caffe preset subtracts it
    path = export_onnx(model, tmp_path / "step.onnx")
    twin = OnnxStepModel(model, path)
    size = model.config.frame_size
    video = torch.randint(0, 256, (2, 23, 1, size, size), dtype=torch.uint8)
    for t_prime in (5, None):
        expected = reconstruction_errors(model, video, t_prime=t_prime)
        actual = reconstruction_errors(twin, video, t_prime=t_prime)
        torch.testing.assert_close(actual.frame, expected.frame, rtol=1e-4, atol=1e-3)
        torch.testing.assert_close(actual.patch, expected.patch, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("export", [export_onnx, export_score_graph])
def test_conv_ae_has_no_step_to_export(tmp_path, export):
    with pytest.raises(ExportError, match="x.onnx: only ConvLSTM-AE"):
        export(create_model("conv-ae-tiny"), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_unreadable_onnx_file(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not an onnx graph")
    with pytest.raises(ExportError, match="cannot load"):
        OnnxStepModel(create_model("tiny"), path)


def test_export_of_a_model_on_the_fast_path(tmp_path):
    from convlstm_ae.model.acceleration import accelerate, is_accelerated

    torch.manual_seed(0)
    model = accelerate(create_model("tiny", frame_size=33).eval())  # as load_model on CUDA
    path = export_onnx(model, tmp_path / "step.onnx")  # checked against PyTorch inside
    assert path.is_file()
    assert is_accelerated(model)  # the caller's model is left as it was
