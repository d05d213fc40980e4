"""Export for inference without PyTorch's eager loop: the live scoring step as ONNX, and
that step under ONNX Runtime."""
