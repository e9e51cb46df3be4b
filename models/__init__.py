"""Offline training (torch, the `train` extra), ONNX export, and the model zoo."""
