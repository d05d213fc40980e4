"""convlstm-ae: video anomaly detection with the ConvLSTM auto-encoder (Luo et al., ICME 2017).

```python
from convlstm_ae import create_model, load_model, reconstruction_errors, regularity_score
model = load_model("runs/cam1/model")  # or create_model("paper")
s = regularity_score(reconstruction_errors(model, frames, t_prime=10).frame[0])
```
"""

from convlstm_ae.model.presets import create_model, list_presets
from convlstm_ae.release import load_model, save_model
from convlstm_ae.scoring.reconstruction import reconstruction_errors
from convlstm_ae.scoring.regularity import regularity_score
from convlstm_ae.scoring.stream import StreamScorer

__all__ = [
    "StreamScorer",
    "create_model",
    "list_presets",
    "load_model",
    "reconstruction_errors",
    "regularity_score",
    "save_model",
]
