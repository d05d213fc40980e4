"""ONNX export of the live scoring step, the one graph the light runtime runs.

The scoring graph is :meth:`StreamScorer.compute
<convlstm_ae.scoring.stream.StreamScorer.compute>` traced with a free batch (one row per
stream): ``(frame, last, keep, h, c) -> (current, previous, patch, map, cells, h_next,
c_next, normalised frame)`` on uint8 frames, Eq. 3 included. :class:`OnnxStreamScorer
<convlstm_ae.export.onnx_stream.OnnxStreamScorer>` runs it for ``watch`` and for
``score --backend onnx``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from convlstm_ae.atomic import atomic_path
from convlstm_ae.errors import ExportError
from convlstm_ae.export.onnx_stream import SCORE_INPUTS, SCORE_OUTPUTS
from convlstm_ae.export.session import open_session
from convlstm_ae.model.convlstm_ae import ConvLSTMAE, feature_sizes
from convlstm_ae.scoring.stream import StreamScorer

TOLERANCE = 1e-4  # largest difference to PyTorch accepted at export, relative to each output


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


class _ScoreStep(nn.Module):
    def __init__(self, model: ConvLSTMAE, patch_size: int | None, cell_size: int | None
                 ) -> None:
        super().__init__()
        self.model = model
        self.scorer = StreamScorer(model, 1, patch_size=patch_size, cell_size=cell_size)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        return self.scorer.compute(*inputs)


def export_score_graph(model: nn.Module, path: str | Path, patch_size: int | None = None,
                       cell_size: int | None = None) -> Path:
    """Export the live scoring step of a ConvLSTM-AE (any batch) and check it under ONNX
    Runtime at batches of 1 and 3, streams with a reset memory beside kept ones.

    Args:
        model: the ConvLSTM-AE, on any device or fast path.
        path: the ``.onnx`` file to write (atomically, once checked); its folder is made.
        patch_size, cell_size: the model's scoring settings (default: of the frame size).

    Raises:
        ExportError: for a Conv-AE, or if ONNX Runtime disagrees with PyTorch.
    """
    if not isinstance(model, ConvLSTMAE):
        raise ExportError(f"{path}: only ConvLSTM-AE has a live scoring step to export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    step = _ScoreStep(_plain_cpu_twin(model), patch_size, cell_size)
    config = model.config

    def inputs(keep: Sequence[float], seed: int) -> tuple[Tensor, ...]:
        generator = torch.Generator().manual_seed(seed)
        shape = (len(keep), config.in_channels, config.frame_size, config.frame_size)
        state = _state_shape(model, len(keep))
        return (torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator),
                torch.rand(shape, generator=generator), torch.tensor(keep),
                torch.rand(state, generator=generator) - 0.5,
                torch.rand(state, generator=generator) - 0.5)

    with atomic_path(path) as temporary:  # a failed export or check leaves no file
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
            torch.onnx.export(step, inputs([1.0], 0), str(temporary), dynamo=False,
                              opset_version=17, input_names=list(SCORE_INPUTS),
                              output_names=list(SCORE_OUTPUTS),
                              dynamic_axes={name: {0: "streams"}
                                            for name in (*SCORE_INPUTS, *SCORE_OUTPUTS)})
        session = open_session(temporary)
        for example in (inputs([0.0], 1), inputs([1.0], 1), inputs([1.0, 0.0, 1.0], 2)):
            outputs = session.run(None, {n: t.numpy() for n, t in zip(SCORE_INPUTS, example,
                                                                       strict=True)})
            with torch.no_grad():
                expected = step(*example)
            # relative to each output's size, since the frame sums run into the thousands
            error = max(float(np.abs(o - e.numpy()).max() / max(1.0, float(e.abs().max())))
                        for o, e in zip(outputs, expected, strict=True))
            if error > TOLERANCE:
                raise ExportError(f"{path}: ONNX Runtime differs from PyTorch by {error:.2g}")
    return path
