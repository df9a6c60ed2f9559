"""The typed errors every client of an outside system raises: transient (worth
retrying) or permanent (the request itself was refused), each with a stable code."""

from __future__ import annotations


class OutsideError(Exception):
    """An outside call that did not give a usable answer."""

    def __init__(self, code: str, message: str = "", *, system: str = "", status: int | None = None):
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.system = system
        self.status = status


class TransientError(OutsideError):
    """Worth retrying: timeouts, connection errors, 5xx, 429."""


class PermanentError(OutsideError):
    """Retrying will not help: the request itself was refused."""


class OutsideTimeout(TransientError):
    """The counterpart did not answer in time (may still have acted: retry with the same key)."""
