"""Export for inference without PyTorch's eager loop: ONNX Runtime."""
