"""The dev stack on one machine: where it runs, which database and broker it uses, its
processes, and the sandbox's control API. `make up`, the demo, the live tests and the
bench all use this package.

Standard library only, and no Django: `scripts/stack.py` runs it before (and without)
the virtualenv. Modules: `layout` (run directory, ports, URLs), `environment` (services
or embedded, the stack env file), `processes` (a process group with its own log),
`stack` (sandbox, web, worker and beat together), `http` and `sandbox` (the sandbox's
control API, test cards), `polling` (`wait_until`), `debian` (the system packages the
test suite needs).
"""

from devstack.http import Response, Unreachable
from devstack.layout import Layout, free_port, sandbox_base_urls
from devstack.polling import DeadlinePassed, wait_until
from devstack.processes import Process, ProcessExited
from devstack.sandbox import SandboxClient, SandboxError, luhn_pan
from devstack.stack import Stack, StackBusy, StackError

__all__ = [
    "DeadlinePassed",
    "Layout",
    "Process",
    "ProcessExited",
    "Response",
    "SandboxClient",
    "SandboxError",
    "Stack",
    "StackBusy",
    "StackError",
    "Unreachable",
    "free_port",
    "luhn_pan",
    "sandbox_base_urls",
    "wait_until",
]
