"""Integration tests use the live-stack fixtures of tests/conftest.py (helpers in tests/live.py)."""
