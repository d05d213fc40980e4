"""convlstm-ae: video anomaly detection with the ConvLSTM auto-encoder (Luo et al., ICME 2017).

```python
from convlstm_ae import create_model, load_model, reconstruction_errors, regularity_score
model = load_model("runs/cam1/model")  # or create_model("paper")
s = regularity_score(reconstruction_errors(model, frames, t_prime=10).frame[0])
```

The names below load on first use (PEP 562), so ``import convlstm_ae`` needs no PyTorch:
the ONNX runtime (``convlstm_ae.live``) runs without it.
"""

from importlib import import_module
from typing import Any

_MODULES = {
    "StreamScorer": "convlstm_ae.scoring.stream",
    "create_model": "convlstm_ae.model.presets",
    "list_presets": "convlstm_ae.model.presets",
    "load_model": "convlstm_ae.release",
    "open_engine": "convlstm_ae.live.engine",
    "reconstruction_errors": "convlstm_ae.scoring.reconstruction",
    "regularity_score": "convlstm_ae.scoring.regularity",
    "save_model": "convlstm_ae.release",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'convlstm_ae' has no attribute {name!r}")
    value = getattr(import_module(_MODULES[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
