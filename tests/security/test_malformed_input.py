"""JSON from outside is parsed one way (core/parsers.py): a body nested thousands deep is
a coded 400 on every API endpoint, and an outside system answering with one does not
crash the worker that asked. (The webhook's own cases are in tests/tokens/test_webhooks.py.)"""

from __future__ import annotations

import http.server
import threading
import uuid

import pytest
import requests

from core.outside import http as outside
from core.parsers import MAX_DEPTH, MalformedJSON, loads
from provisioning.models import IdempotencyKey, ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tests.security.support import api_v1_patterns
from tokens.models import Token


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


BODY_ROUTES = [
    ("post", "/api/v1/provisioning-requests"),
    ("post", "/api/v1/provisioning-requests/{request_id}/verify"),
    ("post", "/api/v1/devices"),
    ("patch", "/api/v1/me/preferences"),
]


@pytest.fixture
def own_objects(customer_id):
    return {
        "request_id": ProvisioningRequestFactory(customer_id=customer_id,
                                                 state=State.STEP_UP_REQUIRED).pk,
        "token_id": TokenFactory(customer_id=customer_id).pk,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("method,route", BODY_ROUTES)
@pytest.mark.parametrize("body", [deep(30_000), deep_object(5_000), deep(MAX_DEPTH + 1)],
                         ids=["array 30000 deep", "object 5000 deep", "just over the limit"])
def test_a_body_nested_too_deep_is_a_coded_400_on_every_endpoint_that_reads_one(
        api_client, own_objects, method, route, body):
    before = (ProvisioningRequest.objects.count(), IdempotencyKey.objects.count())
    response = getattr(api_client, method)(route.format(**own_objects), body,
                                           content_type="application/json",
                                           HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 400, response.content[:200]
    assert response.json()["error"]["code"] == "malformed_json"
    assert (ProvisioningRequest.objects.count(), IdempotencyKey.objects.count()) == before


@pytest.mark.django_db
@pytest.mark.parametrize("route", [route for route, _ in api_v1_patterns()])
def test_a_deep_body_gets_no_5xx_from_any_api_route(api_client, own_objects, route):
    url = "/" + route
    for name, value in own_objects.items():
        url = url.replace(f"<str:{name}>", str(value))
    for method in ("post", "put", "patch"):
        response = getattr(api_client, method)(url, deep(30_000),
                                               content_type="application/json",
                                               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        assert response.status_code < 500, (method, url, response.status_code)
    assert Token.objects.count() == 1


def test_the_api_parses_json_with_the_projects_parser(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] == ["core.parsers.JSONParser"]


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "-Infinity", "{", "", '"\\ud800"x'])
def test_what_is_not_json_is_refused_by_one_error(text):
    with pytest.raises(MalformedJSON):
        loads(text)


def test_a_document_at_the_depth_limit_is_parsed():
    assert loads(deep(MAX_DEPTH)) is not None
    assert loads(b'{"id": "evt_1", "data": {"nested": [1, {"x": null}]}}')["id"] == "evt_1"


# --- answers of outside systems --------------------------------------------------------

class _DeepAnswer(http.server.BaseHTTPRequestHandler):
    """A hostile counterpart: every answer is JSON nested 30,000 deep, with the status the
    path names."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = deep(30_000).encode()
        self.send_response(int(self.path.strip("/") or 200))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile_counterpart():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DeepAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_outside_answer_nested_thousands_deep_is_an_empty_answer_not_a_crash(
        hostile_counterpart):
    answer = outside.send(requests.Session(), system="issuer", operation="eligibility",
                          method="POST", url=f"{hostile_counterpart}/200", body=b"{}")
    assert answer == outside.Response(200, {})


def test_an_outside_error_nested_thousands_deep_is_still_a_typed_error(hostile_counterpart):
    with pytest.raises(outside.TransientError) as raised:
        outside.send(requests.Session(), system="issuer", operation="eligibility",
                     method="POST", url=f"{hostile_counterpart}/503", body=b"{}")
    assert raised.value.status == 503
    with pytest.raises(outside.PermanentError) as refused:
        outside.send(requests.Session(), system="issuer", operation="eligibility",
                     method="POST", url=f"{hostile_counterpart}/422", body=b"{}")
    assert refused.value.code == "http_422"
