"""Clients of the push gateway (FCM HTTP v1 shaped) and the SMS gateway.

Each turns HTTP into a `Sent` (the provider's message id) or a typed error from
core.outside.errors: TransientError (timeout, 5xx, 429: worth retrying) or PermanentError
with a code prefixed by the channel (`push_unregistered`, `sms_invalid_msisdn`, ...).
Both carry the notification id as `reference`, so a duplicate send is visible at the
gateway. Message text never appears in an error or a log line: it may hold a code.

The push gateway authenticates as FCM HTTP v1 does: an OAuth2 access token for a
Google service account (PUSH_SERVICE_ACCOUNT), bought from the account's `token_uri`
with a signed JWT assertion by google-auth. The token is kept per process and renewed
by google-auth shortly before it expires (3 min 45 s); a 401 from the gateway (a token
revoked or expired early) buys one fresh token and sends once more. The SMS gateway
takes a plain bearer key (GATEWAY_API_KEY).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

import google.auth.exceptions
import google.auth.transport.requests
import requests
from django.conf import settings
from google.oauth2 import service_account

from core.outside import transport
from core.outside.client import OutsideClient
from core.outside.errors import OutsideTimeout, PermanentError, TransientError
from core.outside.transport import OUTSIDE_CALL_SECONDS

PUSH = "push"
SMS = "sms"

# The one scope FCM HTTP v1 needs (firebase.google.com/docs/cloud-messaging/auth-server).
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


def _coded(system: str, error: PermanentError) -> PermanentError:
    code = error.code if error.code.startswith(f"{system}_") else f"{system}_{error.code}"
    return PermanentError(code, error.message, system=system, status=error.status)


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# --- the push gateway's access tokens ------------------------------------------------------

class _TokenEndpointTransport(google.auth.transport.requests.Request):
    """google-auth's requests transport with our outside-call habits: our timeouts (its
    default is 120 s), no redirects, no proxies from the environment, and the
    outside_call_seconds histogram (operation `token`). It owns its session: google-auth
    closes the session of a transport that is collected."""

    def __init__(self):
        super().__init__(session=transport.hardened_session())

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        started = time.perf_counter()
        outcome = "error"
        try:
            response = super().__call__(
                url, method=method, body=body, headers=headers,
                timeout=timeout or (settings.OUTSIDE_CONNECT_TIMEOUT,
                                    settings.OUTSIDE_READ_TIMEOUT),
                allow_redirects=False, **kwargs)
            outcome = ("ok" if response.status == 200 else
                       "server_error" if response.status >= 500 or response.status in (408, 429)
                       else "refused")
            return response
        except google.auth.exceptions.TransportError as error:
            outcome = "timeout" if isinstance(error.__cause__, requests.Timeout) \
                else "connection_error"
            raise
        finally:
            OUTSIDE_CALL_SECONDS.labels(PUSH, "token", outcome).observe(
                time.perf_counter() - started)


class _ServiceAccount:
    """One service account's credentials and the transport that refreshes them."""

    def __init__(self, info: dict):
        try:
            self.credentials = service_account.Credentials.from_service_account_info(
                info, scopes=[FCM_SCOPE])
        except (ValueError, KeyError) as error:  # a broken PUSH_SERVICE_ACCOUNT
            raise PermanentError("push_auth_failed",
                                 f"push service account unusable: {type(error).__name__}",
                                 system=PUSH) from None
        self.transport = _TokenEndpointTransport()
        self.lock = threading.Lock()  # one refresh at a time, if threads share the process

    def access_token(self) -> str:
        with self.lock:
            # `valid` is False without a token and from 3 min 45 s before its expiry on.
            if not self.credentials.valid:
                self._refresh()
            return self.credentials.token

    def renew(self, refused: str) -> str:
        """A fresh token after the gateway refused `refused` (unless another thread has
        already replaced it)."""
        with self.lock:
            if self.credentials.token == refused:
                self._refresh()
            return self.credentials.token

    def _refresh(self) -> None:
        try:
            self.credentials.refresh(self.transport)
        except google.auth.exceptions.TransportError as error:
            if isinstance(error.__cause__, requests.Timeout):
                raise OutsideTimeout("push_timeout", "push token endpoint did not answer in time",
                                     system=PUSH) from None
            raise TransientError("push_unavailable", "push token endpoint unreachable",
                                 system=PUSH) from None
        except google.auth.exceptions.RefreshError as error:
            # google-auth has already retried a 5xx or 429 three times (no side effect:
            # a token request only buys a token); retryable means "try again later".
            if error.retryable:
                raise TransientError("push_unavailable", "push token endpoint answered an error",
                                     system=PUSH) from None
            # Refused for good (invalid_grant: wrong key, unknown or disabled account,
            # clock skew). The error's text is the endpoint's, never ours to log.
            raise PermanentError("push_auth_failed",
                                 "push token endpoint refused the service account",
                                 system=PUSH) from None


_accounts: dict[tuple, _ServiceAccount] = {}
_accounts_lock = threading.Lock()


def _service_account() -> _ServiceAccount:
    """The process's credentials for PUSH_SERVICE_ACCOUNT: one per process (a forked
    Celery child gets its own), one per account and token endpoint."""
    info = settings.PUSH_SERVICE_ACCOUNT
    key = (os.getpid(), info.get("client_email"), info.get("private_key_id"),
           info.get("token_uri"))
    with _accounts_lock:
        account = _accounts.get(key)
        if account is None:
            account = _accounts[key] = _ServiceAccount(info)
        return account


class PushGatewayClient(OutsideClient):
    system = PUSH

    def __init__(self):
        super().__init__()
        self.project = settings.PUSH_PROJECT_ID

    def send(self, *, device_token: str, title: str, body: str, reference: str,
             event: str) -> Sent:
        message = {
            "token": device_token,
            "notification": {"title": title, "body": body},
            # FCM wants string values only; `reference` lets the gateway count duplicates.
            "data": {"reference": reference, "event": event},
        }
        account = _service_account()
        access_token = account.access_token()
        for attempt in (1, 2):
            try:
                reply = self.call(
                    "send", "POST",
                    f"/v1/projects/{quote(self.project, safe='')}/messages:send",
                    headers={"Authorization": f"Bearer {access_token}"},
                    body=_json({"message": message}), ok=(200,),
                )
                break
            except PermanentError as error:
                if error.status == 401 and attempt == 1:
                    # Refused before anything was sent: a token revoked or expired earlier
                    # than its expires_in said. One fresh token, one more send.
                    access_token = account.renew(access_token)
                    continue
                raise self._refused(error) from None
        # Accepted is accepted: a 200 without a name must not be sent again by SMS.
        return Sent(provider_message_id=str(reply.body.get("name") or ""))

    @staticmethod
    def _refused(error: PermanentError) -> PermanentError:
        if error.status == 404:
            # FCM's UNREGISTERED: the app was uninstalled or the token rotated.
            return PermanentError("push_unregistered", "device token is not registered",
                                  system=PUSH, status=404)
        if error.status == 401:
            # A token fresh from the token endpoint refused too: the account lacks the
            # right to send for this project. Not a token problem; do not loop.
            return PermanentError("push_unauthorized",
                                  "push gateway refused a fresh access token",
                                  system=PUSH, status=401)
        return _coded(PUSH, error)


class SmsGatewayClient(OutsideClient):
    system = SMS

    def send(self, *, to: str, text: str, reference: str) -> Sent:
        try:
            reply = self.call(
                "send", "POST", "/v1/messages",
                body=_json({"to": to, "text": text, "reference": reference}),
                ok=(200, 201, 202),
            )
        except PermanentError as error:
            raise _coded(SMS, error) from None
        return Sent(provider_message_id=str(reply.body.get("message_id") or ""))
