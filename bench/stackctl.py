"""scripts/stack.py, pointed at a private run directory and private ports.

The bench must not share `var/run/*.pid`, `var/log/` or `var/stack.env` with a `make up`
someone else runs from the same checkout (their `make down` would stop our stack, and
ours theirs), nor ports 8000/8900. stack.py keeps those in module constants, so this
wrapper loads it as a module, re-points the constants, and runs its own commands
(`up`, `down`, `kill-worker`, `restart-worker`, ...) unchanged:

    python bench/stackctl.py --var-dir var/bench/run1 --web-port 18000 --sandbox-port 18900 up

Everything else (environment choice from DATABASE_URL / CELERY_BROKER_URL / REDIS_URL /
WEB_CONCURRENCY / WORKER_CONCURRENCY, process groups, readiness checks, `kill -9` of the
worker group) is stack.py's own code. Standard library only, like stack.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def load_stack(var_dir: Path, web_port: int, sandbox_port: int) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_stack", REPO / "scripts" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    shared = {module.VAR, module.RUN_DIR, module.LOG_DIR, module.STACK_ENV_FILE}
    var_dir = var_dir if var_dir.is_absolute() else REPO / var_dir
    module.VAR = var_dir
    module.RUN_DIR = var_dir / "run"
    module.LOG_DIR = var_dir / "log"
    module.STACK_ENV_FILE = var_dir / "stack.env"
    module.WEB_PORT = web_port
    module.SANDBOX_PORT = sandbox_port
    module.WEB_URL = f"http://{module.HOST}:{web_port}"
    module.SANDBOX_URL = f"http://{module.HOST}:{sandbox_port}"
    module.SANDBOX_HEALTH_URL = f"{module.SANDBOX_URL}/sandbox/health"
    module.READYZ_URL = f"{module.WEB_URL}/readyz"
    _rebind_defaults(module, shared)
    return module


def _rebind_defaults(module: ModuleType, shared: set[Path]) -> None:
    """Default arguments were bound when stack.py was loaded, before the constants above
    were re-pointed (`load_stack_env(path=STACK_ENV_FILE)` would read the shared
    var/stack.env, and `restart-worker` would start a worker on someone else's database
    and broker). Re-bind the ones that name our paths, and refuse to run if any default
    still points into the shared var/ directory."""
    import inspect

    module.load_stack_env.__defaults__ = (module.STACK_ENV_FILE,)
    for name, function in inspect.getmembers(module, inspect.isfunction):
        for value in function.__defaults__ or ():
            if isinstance(value, Path) and (value in shared or value.parent in shared):
                raise SystemExit(f"bench/stackctl.py: stack.{name} still defaults to {value}; "
                                 "refusing to act on the shared stack")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/stackctl.py", description=__doc__.split("\n")[0])
    parser.add_argument("--var-dir", type=Path, required=True,
                        help="run directory for pids, logs and stack.env (relative to the repo)")
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--sandbox-port", type=int, required=True)
    args, rest = parser.parse_known_args(argv)
    stack = load_stack(args.var_dir, args.web_port, args.sandbox_port)
    return stack.main(rest)


if __name__ == "__main__":
    sys.exit(main())
