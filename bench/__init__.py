"""Load, scale and fault benchmarks (see bench/README.md). Not part of the service."""
