"""Run the sandbox: `python -m sandbox --host 127.0.0.1 --port 8900`."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from .app import create_app
from .config import DEFAULT_PORT

GRACEFUL_SHUTDOWN_SECONDS = 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SANDBOX_PORT", DEFAULT_PORT))
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # One process, one worker: the sandbox's state lives in this process's memory. A call
    # it holds back on purpose (0044's payout, an injected hang or lost answer: up to
    # SANDBOX_SLOW_SECONDS) has long been given up by its caller, so a stop waits for
    # open calls only briefly instead of sitting out the hang.
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level,
                workers=1, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)


if __name__ == "__main__":
    main()
