"""xApps: the SDK, policies (ONNX, baselines, optimizers) and the tier xApps."""
