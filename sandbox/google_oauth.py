"""Google's OAuth2 token endpoint (oauth2.googleapis.com/token), played for the push gateway.

FCM HTTP v1 takes OAuth2 access tokens only. A service account buys one with the
jwt-bearer grant (RFC 7523): a JWT signed with the account's private key (RS256, `kid`
the key's id) whose `iss` is the account's email, `aud` Google's token endpoint, `scope`
the FCM scope, and `exp` at most an hour after `iat`
(developers.google.com/identity/protocols/oauth2/service-account). The sandbox checks
exactly that against the account's public key from the dev keys, issues short-lived
tokens, and the send endpoint (gateways.py) takes nothing else.

Errors follow RFC 6749 section 5.2 as Google answers them,
`{"error": "invalid_grant", "error_description": "..."}`, not the sandbox's own shape:
that is what google-auth parses.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .errors import SandboxError
from .state import SandboxState

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth puts this audience in every assertion, whatever token_uri it posts to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
MAX_ASSERTION_SECONDS = 3600
CLOCK_SKEW_SECONDS = 300


class _Refused(Exception):
    def __init__(self, error: str, reason: str, description: str) -> None:
        super().__init__(description)
        self.error, self.reason, self.description = error, reason, description


def _verify(state: SandboxState, assertion: str) -> dict[str, Any]:
    credentials = state.config.credentials

    def key_for(guest):
        if guest.headers().get("kid") != credentials.push_key_id:
            raise _Refused("invalid_grant", "unknown_key", "Invalid grant: key not found.")
        return credentials.push_public_key

    try:
        claims = jwt.decode(assertion, key_for, algorithms=["RS256"]).claims
    except BadSignatureError:
        raise _Refused("invalid_grant", "bad_signature", "Invalid JWT Signature.") from None
    except (JoseError, ValueError, TypeError, KeyError):
        raise _Refused("invalid_grant", "malformed_assertion", "Invalid JWT.") from None
    if claims.get("iss") != credentials.push_client_email:
        raise _Refused("invalid_grant", "unknown_account", "Invalid grant: account not found.")
    if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
        raise _Refused("invalid_grant", "bad_audience", "Invalid JWT: audience mismatch.")
    issued, expires = claims.get("iat"), claims.get("exp")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (issued, expires)):
        raise _Refused("invalid_grant", "malformed_assertion", "Invalid JWT: iat and exp needed.")
    now = time.time()
    if expires <= now - CLOCK_SKEW_SECONDS:
        raise _Refused("invalid_grant", "expired_assertion", "Invalid JWT: token expired.")
    if expires - issued > MAX_ASSERTION_SECONDS or issued > now + CLOCK_SKEW_SECONDS:
        raise _Refused("invalid_grant", "lifetime_too_long",
                       "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                       "reasonable timeframe.")
    return claims


def _oauth_error(state: SandboxState, refused: _Refused) -> JSONResponse:
    with state.lock:
        state.counters.push_grant_failures[refused.reason] += 1
    return JSONResponse({"error": refused.error, "error_description": refused.description},
                        status_code=400)


async def issue_token(request: Request) -> JSONResponse:
    state: SandboxState = request.app.state.sandbox
    state.count_call("push", "token")
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    grant_type = (form.get("grant_type") or [""])[0]
    assertion = (form.get("assertion") or [""])[0]
    try:
        if grant_type != JWT_BEARER:
            raise _Refused("unsupported_grant_type", "unsupported_grant_type",
                           "Invalid grant_type.")
        if not assertion:
            raise _Refused("invalid_request", "missing_assertion", "Missing assertion.")
        claims = _verify(state, assertion)
        scopes = str(claims.get("scope") or "").split()
        if FCM_SCOPE not in scopes:
            raise _Refused("invalid_scope", "invalid_scope",
                           "The assertion does not ask for the firebase.messaging scope.")
    except _Refused as refused:
        return _oauth_error(state, refused)
    lifetime = state.config.push_token_seconds
    token = "ya29.sandbox-" + secrets.token_urlsafe(32)
    with state.lock:
        state.access_tokens[token] = time.time() + lifetime
        state.counters.push_tokens_issued += 1
    return JSONResponse({"access_token": token, "expires_in": math.ceil(lifetime),
                         "token_type": "Bearer"})


def require_access_token(request: Request, state: SandboxState) -> None:
    """The send endpoint's check: a bearer token this endpoint issued and not yet expired."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    reason = None
    if scheme.lower() != "bearer" or not presented:
        reason = "missing"
    else:
        with state.lock:
            expires = state.access_tokens.get(presented)
        if expires is None:
            reason = "unknown"
        elif time.time() >= expires:
            reason = "expired"
    if reason is not None:
        with state.lock:
            state.counters.push_send_refusals[reason] += 1
        raise SandboxError(401, "unauthenticated",
                           "Request had invalid authentication credentials: expected an OAuth 2 "
                           "access token.", status="UNAUTHENTICATED")


routes = [Route("/token", issue_token, methods=["POST"])]
