"""Settings modules: base (shared), dev (laptop and sandbox), test (pytest), production."""
