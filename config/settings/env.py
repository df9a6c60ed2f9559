"""What every settings module reads: the environment, and where the repository and its
var/ directory are.

Topic modules (security, notifications, operations, outside) import this and nothing
else from config.settings; base.py composes them. Nothing imports base back.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def sandbox_url() -> str:
    """Where the sandbox listens: the default of every outside system's base URL in dev
    and test (each system under its mount, core/outside/registry.py). Production reads
    every base URL explicitly and never this."""
    return env.str("SANDBOX_URL", default="http://127.0.0.1:8900").rstrip("/")
