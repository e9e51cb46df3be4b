"""Generated protobuf and gRPC modules (``python -m ric.protocol.generate``; do not edit)."""
