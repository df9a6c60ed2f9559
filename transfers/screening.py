"""Client of sanctions screening: a recipient's name and country -> clear, review or hit."""

from __future__ import annotations

import json
from dataclasses import dataclass


from core.outside.client import OutsideClient
from core.outside.errors import PermanentError

SYSTEM = "screening"
RESULTS = {"clear", "review", "hit"}


@dataclass(frozen=True)
class Screening:
    screening_id: str
    result: str


class ScreeningClient(OutsideClient):
    """Base URL, session, timeouts and bearer key (SCREENING_API_KEY) from the registry entry."""

    system = SYSTEM

    def screen(self, *, name: str, country: str, reference: str) -> Screening:
        body = json.dumps({"name": name, "country": country, "reference": reference},
                          separators=(",", ":")).encode()
        reply = self.call("screen", "POST", "/v1/screenings", body=body)
        result = reply.body.get("result")
        if result not in RESULTS:
            raise PermanentError("screening_bad_response", "no screening result", system=SYSTEM)
        return Screening(str(reply.body.get("screening_id") or ""), result)
