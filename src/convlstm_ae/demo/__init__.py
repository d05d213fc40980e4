"""The demo: a ``tiny`` ConvLSTM-AE shipped with the package (trained on Moving-MNIST by
``benchmarks/make_demo_model.py``, calibrated on held-out normal sequences) and a
Moving-MNIST video whose second half holds anomalies, for trying ``score`` or a live
watcher without training anything.

```python
from convlstm_ae.demo import demo_model_dir, write_demo_video
events = write_demo_video("demo.avi")  # DemoEvent(kind, first, stop): motion, appearance
model_dir = demo_model_dir()           # convlstm-ae score MODEL_DIR demo.avi
```
"""

from convlstm_ae.demo.video import DemoEvent, write_demo_labels, write_demo_video
from convlstm_ae.demo.weights import demo_model_dir

__all__ = ["DemoEvent", "demo_model_dir", "write_demo_labels", "write_demo_video"]
