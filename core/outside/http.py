"""The outside-call plumbing under its old name: errors (core/outside/errors.py), one
HTTP exchange (core/outside/transport.py) and the shared breakers
(core/outside/breaker.py). New code imports those modules, or subclasses
core.outside.client.OutsideClient.
"""

from .breaker import CircuitBreakerError, shared_breaker
from .errors import OutsideError, OutsideTimeout, PermanentError, TransientError
from .transport import (
    OUTSIDE_CALL_ERRORS,
    OUTSIDE_CALL_SECONDS,
    Response,
    build_session,
    hardened_session,
    send,
)

__all__ = [
    "OUTSIDE_CALL_ERRORS",
    "OUTSIDE_CALL_SECONDS",
    "CircuitBreakerError",
    "OutsideError",
    "OutsideTimeout",
    "PermanentError",
    "Response",
    "TransientError",
    "build_session",
    "hardened_session",
    "send",
    "shared_breaker",
]
