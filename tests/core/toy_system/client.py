"""A toy outside system's client, as a new flow would write one: a subclass naming its
registry entry, and its calls turning HTTP into a typed result."""

from __future__ import annotations

from dataclasses import dataclass

from core.outside.client import OutsideClient
from core.outside.errors import PermanentError


@dataclass(frozen=True)
class Echo:
    said: str


class ToyClient(OutsideClient):
    system = "toy"

    def echo(self, text: str) -> Echo:
        reply = self.call("echo", "GET", f"/v1/echo/{text}")
        if "said" not in reply.body:
            raise PermanentError("toy_bad_response", "no echo", system=self.system)
        return Echo(said=str(reply.body["said"]))
