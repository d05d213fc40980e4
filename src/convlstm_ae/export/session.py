"""ONNX Runtime sessions on the CPU; torch-free, so the runtime can open them."""

from __future__ import annotations

from pathlib import Path

from convlstm_ae.errors import ExportError


def open_session(path: Path, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` of ``path`` on the CPU with ``threads`` intra-op
    threads (default ONNX Runtime's).

    Raises:
        ExportError: ONNX Runtime cannot load the file.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise ExportError(f"{path}: ONNX Runtime cannot load it ({type(error).__name__})") from None
