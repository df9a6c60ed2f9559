"""Clients of the push gateway (FCM HTTP v1 shaped) and the SMS gateway.

Each turns HTTP into a `Sent` (the provider's message id) or a typed error from
config.outside: TransientError (timeout, 5xx, 429: worth retrying) or PermanentError
with a code prefixed by the channel (`push_unregistered`, `sms_invalid_msisdn`, ...).
Both carry the notification id as `reference`, so a duplicate send is visible at the
gateway. Message text never appears in an error or a log line: it may hold a code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings

from config import outside
from config.outside import PermanentError

PUSH = "push"
SMS = "sms"


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


def _coded(system: str, error: PermanentError) -> PermanentError:
    code = error.code if error.code.startswith(f"{system}_") else f"{system}_{error.code}"
    return PermanentError(code, error.message, system=system, status=error.status)


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class PushGatewayClient:
    def __init__(self):
        self.base_url = settings.PUSH_GATEWAY_BASE_URL.rstrip("/")
        self.project = settings.PUSH_PROJECT_ID
        self.session = outside.build_session()
        self.headers = {"Authorization": f"Bearer {settings.GATEWAY_API_KEY}"}

    def send(self, *, device_token: str, title: str, body: str, reference: str,
             event: str) -> Sent:
        message = {
            "token": device_token,
            "notification": {"title": title, "body": body},
            # FCM wants string values only; `reference` lets the gateway count duplicates.
            "data": {"reference": reference, "event": event},
        }
        try:
            reply = outside.send(
                self.session, system=PUSH, operation="send", method="POST",
                url=f"{self.base_url}/v1/projects/{quote(self.project, safe='')}/messages:send",
                headers=self.headers, body=_json({"message": message}), ok=(200,),
            )
        except PermanentError as error:
            if error.status == 404:
                # FCM's UNREGISTERED: the app was uninstalled or the token rotated.
                raise PermanentError("push_unregistered", "device token is not registered",
                                     system=PUSH, status=404) from None
            raise _coded(PUSH, error) from None
        # Accepted is accepted: a 200 without a name must not be sent again by SMS.
        return Sent(provider_message_id=str(reply.body.get("name") or ""))


class SmsGatewayClient:
    def __init__(self):
        self.base_url = settings.SMS_GATEWAY_BASE_URL.rstrip("/")
        self.session = outside.build_session()
        self.headers = {"Authorization": f"Bearer {settings.GATEWAY_API_KEY}"}

    def send(self, *, to: str, text: str, reference: str) -> Sent:
        try:
            reply = outside.send(
                self.session, system=SMS, operation="send", method="POST",
                url=f"{self.base_url}/v1/messages", headers=self.headers,
                body=_json({"to": to, "text": text, "reference": reference}),
                ok=(200, 201, 202),
            )
        except PermanentError as error:
            raise _coded(SMS, error) from None
        return Sent(provider_message_id=str(reply.body.get("message_id") or ""))
