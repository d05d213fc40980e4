"""Live scoring engines: one frame of each of B streams per call, under PyTorch or ONNX Runtime."""
