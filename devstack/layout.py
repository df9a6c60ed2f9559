"""Where a dev stack lives: its run directory (pids, logs, the stack env file, the
embedded mode's data), its host and ports, and the URLs that follow from them.

`make up` uses the defaults (var/, 8000, 8900); the bench and the stack CLI's tests use a
private run directory and free ports, so two stacks never see each other's files.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_RUN_DIR = Path("var")
DEFAULT_WEB_PORT = 8000
DEFAULT_SANDBOX_PORT = 8900

# Each outside system's base-URL setting and where the sandbox serves that system. The
# service only ever reads the settings; pointing them here is what makes it talk to the
# sandbox.
SANDBOX_MOUNTS = {
    "ISSUER_BASE_URL": "/issuer",
    "TOKEN_SERVICE_BASE_URL": "/tms",
    "PUSH_GATEWAY_BASE_URL": "/push",
    "SMS_GATEWAY_BASE_URL": "/sms",
    "TELCO_BASE_URL": "/telco",
    "MPESA_BASE_URL": "/mpesa",
    "ATTRIBUTES_BASE_URL": "/paai",
    "PAYOUTS_BASE_URL": "/pts",
    "PAYOUT_SEARCH_BASE_URL": "/tss",
    "SCREENING_BASE_URL": "/screening",
}


def sandbox_base_urls(sandbox_url: str) -> dict[str, str]:
    """The base-URL settings that send every outside call to the sandbox at `sandbox_url`."""
    root = sandbox_url.rstrip("/")
    return {setting: f"{root}{mount}" for setting, mount in SANDBOX_MOUNTS.items()}


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def venv_python(environ: Mapping[str, str] | None = None) -> str:
    """The project's virtualenv python (`$VENV`, default .venv), else this interpreter.

    The stack's children run under the venv even when the CLI runs on a bare python3;
    inside a container there is no .venv and the current interpreter is the env.
    """
    environ = os.environ if environ is None else environ
    venv = Path(environ.get("VENV") or ".venv")
    candidate = (venv if venv.is_absolute() else REPO / venv) / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


@dataclass(frozen=True)
class Layout:
    """One stack's run directory, host and ports."""

    run_dir: Path = REPO / DEFAULT_RUN_DIR
    web_port: int = DEFAULT_WEB_PORT
    sandbox_port: int = DEFAULT_SANDBOX_PORT
    host: str = HOST

    def __post_init__(self) -> None:
        run_dir = Path(self.run_dir)
        object.__setattr__(self, "run_dir", run_dir if run_dir.is_absolute() else REPO / run_dir)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *,
                     run_dir: Path | str | None = None, web_port: int | None = None,
                     sandbox_port: int | None = None) -> Layout:
        """STACK_RUN_DIR, STACK_WEB_PORT, STACK_SANDBOX_PORT, each overridden by an argument."""
        environ = os.environ if environ is None else environ
        return cls(
            run_dir=Path(run_dir or environ.get("STACK_RUN_DIR") or DEFAULT_RUN_DIR),
            web_port=web_port or int(environ.get("STACK_WEB_PORT") or DEFAULT_WEB_PORT),
            sandbox_port=sandbox_port
            or int(environ.get("STACK_SANDBOX_PORT") or DEFAULT_SANDBOX_PORT),
        )

    # --- files ------------------------------------------------------------------------

    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "log"

    @property
    def stack_env_file(self) -> Path:
        return self.run_dir / "stack.env"

    def pid_file(self, name: str) -> Path:
        return self.pid_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def embedded_env(self) -> dict[str, str]:
        """Where the embedded mode keeps its data: inside this stack's run directory."""
        return {
            "DATABASE_URL": f"sqlite:///{self.run_dir / 'db.sqlite3'}",
            "CELERY_BROKER_URL": "filesystem://",
            # Written out empty on purpose: a REDIS_URL exported later in the shell must
            # not give a restarted worker a different cache and breaker from the running web.
            "REDIS_URL": "",
            "BROKER_FOLDER": str(self.run_dir / "broker"),
            "FILE_CACHE_DIR": str(self.run_dir / "cache"),
        }

    # --- URLs -------------------------------------------------------------------------

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.host}:{self.sandbox_port}"

    @property
    def readyz_url(self) -> str:
        return f"{self.web_url}/readyz"

    @property
    def sandbox_health_url(self) -> str:
        return f"{self.sandbox_url}/sandbox/health"

    @property
    def webhook_url(self) -> str:
        """Where the sandbox's token service sends its webhooks: this stack's web."""
        return f"{self.web_url}/webhooks/token-service"

    def relative(self, path: Path) -> str:
        """`path` as a reader of the repository names it."""
        try:
            return str(path.relative_to(REPO))
        except ValueError:
            return str(path)
