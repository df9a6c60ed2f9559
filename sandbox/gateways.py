"""Push gateway (FCM HTTP v1 shaped) and SMS gateway stand-ins, both writing to one inbox.

The inbox is how a test or the demo reads a one-time code "as a phone would"; a
`reference` seen twice is counted, since it means the service sent one notification twice.
The push gateway takes OAuth2 access tokens from its token endpoint (google_oauth.py,
mounted beside it at /push/token); the SMS gateway a bearer key.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import google_oauth
from .auth import require_bearer
from .errors import SandboxError, read_json_object
from .faults import apply_faults
from .state import SandboxState

_MSISDN = re.compile(r"^\+\d{8,15}$")


async def _admit(request: Request, system: str) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    state.count_call(system, "send")
    await apply_faults(state, system)
    if system == "push":
        google_oauth.require_access_token(request, state)
    else:
        require_bearer(request, state.config.credentials.gateway_api_key)
    return state


def _invalid(message: str) -> SandboxError:
    return SandboxError(400, "invalid_argument", message, status="INVALID_ARGUMENT")


async def send_push(request: Request) -> JSONResponse:
    state = await _admit(request, "push")
    payload = await read_json_object(request)
    message = payload.get("message")
    if not isinstance(message, dict):
        raise _invalid("message is required")
    device_token = message.get("token")
    if not isinstance(device_token, str) or not device_token:
        raise _invalid("message.token is required")
    notification = message.get("notification") or {}
    if not isinstance(notification, dict) or not all(
        isinstance(notification.get(name, ""), str) for name in ("title", "body")
    ):
        raise _invalid("notification title and body must be strings")
    data = message.get("data") or {}
    # FCM refuses data values that are not strings; so does the sandbox.
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise _invalid("data must map strings to strings")
    if device_token.startswith("dead-"):
        raise SandboxError(
            404, "unregistered", "device token is not registered", status="UNREGISTERED"
        )
    stored = state.store_message(
        channel="push",
        to=device_token,
        title=notification.get("title"),
        body=notification.get("body"),
        reference=data.get("reference"),
        data=data,
    )
    project = request.path_params["project"]
    return JSONResponse({"name": f"projects/{project}/messages/{stored['id']}"})


async def send_sms(request: Request) -> JSONResponse:
    state = await _admit(request, "sms")
    payload = await read_json_object(request)
    to, text, reference = payload.get("to"), payload.get("text"), payload.get("reference")
    if not isinstance(to, str) or not _MSISDN.match(to):
        raise SandboxError(400, "invalid_msisdn", "to must be an E.164 number, e.g. +254700000100")
    if not isinstance(text, str) or not text:
        raise SandboxError(400, "invalid_request", "text is required")
    if not isinstance(reference, str) or not reference:
        raise SandboxError(400, "invalid_request", "reference is required")
    stored = state.store_message(
        channel="sms", to=to, title=None, body=text, reference=reference, data=None
    )
    return JSONResponse({"message_id": stored["id"], "status": "queued"}, status_code=201)


push_routes = [
    Route("/v1/projects/{project}/messages:send", send_push, methods=["POST"]),
    *google_oauth.routes,  # /push/token: where the push service account buys access tokens
]
sms_routes = [Route("/v1/messages", send_sms, methods=["POST"])]
