"""ONNX export of the ConvLSTM-AE step function and of the live scoring step.

The step graph is one step with explicit state, as streaming needs it:
``(frame, h, c) -> (current, previous, h_next, c_next)`` on normalised frames.
:class:`OnnxStepModel` runs it frame by frame behind the same interface as
``ConvLSTMAE.forward``, so scoring (Eq. 3) is the one in
:mod:`convlstm_ae.scoring.reconstruction`, not a second copy.

The scoring graph (:func:`export_score_graph`) is :class:`StreamScorer`'s whole step,
traced: ``(frame, last, keep, h, c) -> (current, previous, patch, map, h_next, c_next,
normalised frame)`` on uint8 frames, batch 1, for the torch-free
:class:`~convlstm_ae.live.onnx_engine.OnnxEngine`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from convlstm_ae.errors import ExportError
from convlstm_ae.export.session import open_session
from convlstm_ae.model.convlstm import State
from convlstm_ae.model.convlstm_ae import ConvLSTMAE, FrameModel, feature_sizes
from convlstm_ae.scoring.stream import StreamScorer

TOLERANCE = 1e-4  # largest absolute difference to PyTorch accepted at export


class _Step(nn.Module):
    def __init__(self, model: ConvLSTMAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, frame: Tensor, h: Tensor, c: Tensor):
        current, previous, (h_next, c_next) = self.model.step(frame, (h, c))
        return current, previous, h_next, c_next


def _state_shape(model: ConvLSTMAE, batch: int) -> tuple[int, int, int, int]:
    config = model.config
    size = config.frame_size
    h, w = feature_sizes(size, size, config.encoder_kernels, config.encoder_strides)[-1]
    return batch, config.lstm_channels, h, w


def _plain_cpu_twin(model: ConvLSTMAE) -> ConvLSTMAE:
    """The same weights in a fresh eager model on the CPU, whatever fast path or device
    ``model`` is on: the exporter traces plain PyTorch."""
    twin = ConvLSTMAE(model.config)
    twin.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
    return twin.eval()


def export_onnx(model: nn.Module, path: str | Path) -> Path:
    """Export the step function of a ConvLSTM-AE (batch 1) and check it under ONNX Runtime.

    Raises:
        ExportError: for a Conv-AE, or if ONNX Runtime disagrees with PyTorch.
    """
    model, path = _export_target(model, path, "a step function")
    size = model.config.frame_size
    generator = torch.Generator().manual_seed(0)
    frame = torch.rand(1, model.config.in_channels, size, size, generator=generator)
    h = torch.rand(_state_shape(model, 1), generator=generator) - 0.5
    c = torch.rand(_state_shape(model, 1), generator=generator) - 0.5
    return _export_checked(_Step(model), path, ("frame", "h", "c"),
                           ("current", "previous", "h_next", "c_next"), (frame, h, c),
                           [(frame, h, c)], relative=False)


def _export_target(model: nn.Module, path: str | Path, what: str) -> tuple[ConvLSTMAE, Path]:
    """The plain CPU twin of a ConvLSTM-AE to export, and ``path`` with its folder made.

    Raises:
        ExportError: for a Conv-AE, which has no ``what`` to export.
    """
    if not isinstance(model, ConvLSTMAE):
        raise ExportError(f"{path}: only ConvLSTM-AE has {what} to export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _plain_cpu_twin(model), path


def _export_checked(module: nn.Module, path: Path, input_names: tuple[str, ...],
                    output_names: tuple[str, ...], trace: tuple[Tensor, ...],
                    checks: list[tuple[Tensor, ...]], *, relative: bool) -> Path:
    """Export ``module`` traced on ``trace``, then run every example of ``checks`` under
    ONNX Runtime and PyTorch; the largest difference (``relative``: to each output's
    largest value, at least 1) must stay within :data:`TOLERANCE`.

    Raises:
        ExportError: ONNX Runtime disagrees with PyTorch.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
        torch.onnx.export(module, trace, str(path), dynamo=False, opset_version=17,
                          input_names=list(input_names), output_names=list(output_names))
    session = open_session(path)
    for example in checks:
        outputs = session.run(None, {n: t.numpy() for n, t in zip(input_names, example,
                                                                   strict=True)})
        with torch.no_grad():
            expected = module(*example)
        error = max(float(np.abs(o - e.numpy()).max()
                          / (max(1.0, float(e.abs().max())) if relative else 1.0))
                    for o, e in zip(outputs, expected, strict=True))
        if error > TOLERANCE:
            raise ExportError(f"{path}: ONNX Runtime differs from PyTorch by {error:.2g}")
    return path


class _ScoreStep(nn.Module):
    def __init__(self, model: ConvLSTMAE, patch_size: int | None) -> None:
        super().__init__()
        self.model = model
        self.scorer = StreamScorer(model, 1, patch_size=patch_size)

    def forward(self, frame: Tensor, last: Tensor, keep: Tensor, h: Tensor, c: Tensor):
        return self.scorer._compute(frame, h, c, last, keep)  # the one live scoring step


SCORE_INPUTS = ("frame", "last", "keep", "h", "c")
SCORE_OUTPUTS = ("current", "previous", "patch", "map", "h_next", "c_next", "normalized")


def export_score_graph(model: nn.Module, path: str | Path, patch_size: int | None = None
                       ) -> Path:
    """Export the live scoring step of a ConvLSTM-AE (batch 1) and check it under ONNX
    Runtime; ``patch_size`` is the localized error's (default 1/28 of the frame).

    Raises:
        ExportError: for a Conv-AE, or if ONNX Runtime disagrees with PyTorch.
    """
    model, path = _export_target(model, path, "a live scoring step")
    step = _ScoreStep(model, patch_size)

    def inputs(keep: float, seed: int) -> tuple[Tensor, ...]:
        generator = torch.Generator().manual_seed(seed)
        size = model.config.frame_size
        shape = (1, model.config.in_channels, size, size)
        state = _state_shape(model, 1)
        return (torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator),
                torch.rand(shape, generator=generator), torch.full((1,), keep),
                torch.rand(state, generator=generator) - 0.5,
                torch.rand(state, generator=generator) - 0.5)

    # a memory reset and a kept memory; relative to each output's size, since the frame
    # sums run into the thousands
    return _export_checked(step, path, SCORE_INPUTS, SCORE_OUTPUTS, inputs(1.0, 0),
                           [inputs(0.0, 1), inputs(1.0, 1)], relative=True)


class OnnxStepModel(FrameModel):
    """A ConvLSTM-AE whose forward pass runs the exported step under ONNX Runtime (CPU).

    Takes the same (B, T, C, H, W) clips and (h, c) state as ``ConvLSTMAE.forward``;
    normalisation (and the mean frame) stay with this module.
    """

    def __init__(self, model: ConvLSTMAE, path: str | Path, threads: int | None = None) -> None:
        super().__init__(model.config)
        self.mean_frame.copy_(model.mean_frame)
        self.session = open_session(Path(path), threads)
        self._shape = _state_shape(model, 1)[1:]

    def forward(self, clip: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        b, t = clip.shape[:2]
        if state is None:
            zeros = np.zeros((b, *self._shape), np.float32)
            h, c = zeros, zeros
        else:
            h, c = (s.float().numpy() for s in state)
        currents, previouses = [], []
        frames = clip.float().numpy()
        for step in range(t):
            outputs = [
                self.session.run(None, {"frame": frames[i : i + 1, step], "h": h[i : i + 1],
                                        "c": c[i : i + 1]})
                for i in range(b)
            ]
            currents.append(np.concatenate([o[0] for o in outputs]))
            previouses.append(np.concatenate([o[1] for o in outputs]))
            h = np.concatenate([o[2] for o in outputs])
            c = np.concatenate([o[3] for o in outputs])
        current = torch.from_numpy(np.stack(currents, axis=1))
        previous = torch.from_numpy(np.stack(previouses, axis=1))
        return current, previous, (torch.from_numpy(h), torch.from_numpy(c))
