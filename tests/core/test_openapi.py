"""The OpenAPI schema says what the API answers: every status each operation can give with
the coded error shape, the cursor-paginated list shape, and one request variant per
wallet, Apple Pay's with its required `apple` block."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.validators import IDEMPOTENCY_KEY_PATTERN
from tokens import wallets

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator(urlconf="config.urls_public").get_schema(request=None, public=True)


def operation(schema, method: str, path: str) -> dict:
    return schema["paths"][path][method]


def statuses(schema, method: str, path: str) -> set[str]:
    return set(operation(schema, method, path)["responses"])


OPERATIONS = [
    ("post", "/api/v1/provisioning-requests", {"202", "400", "401", "409", "413", "415", "422",
                                               "429"}),
    ("get", "/api/v1/provisioning-requests", {"200", "400", "401", "429"}),
    ("get", "/api/v1/provisioning-requests/{request_id}", {"200", "304", "400", "401", "404",
                                                          "429"}),
    ("get", "/api/v1/transfers/{transfer_id}", {"200", "304", "400", "401", "404", "429"}),
    ("post", "/api/v1/provisioning-requests/{request_id}/cancel",
     {"200", "400", "401", "404", "409", "413", "429"}),
    ("post", "/api/v1/provisioning-requests/{request_id}/verify",
     {"200", "400", "401", "404", "409", "413", "415", "422", "429"}),
    ("post", "/api/v1/provisioning-requests/{request_id}/resend-otp",
     {"202", "400", "401", "404", "409", "413", "429"}),
    ("get", "/api/v1/tokens", {"200", "400", "401", "429"}),
    ("get", "/api/v1/tokens/{token_id}", {"200", "400", "401", "404", "429"}),
    ("post", "/api/v1/tokens/{token_id}/suspend", {"202", "400", "401", "404", "409", "413",
                                                    "429"}),
    ("post", "/api/v1/devices", {"200", "201", "400", "401", "413", "415", "429"}),
    ("patch", "/api/v1/me/preferences", {"200", "400", "401", "413", "415", "429"}),
]


@pytest.mark.parametrize(("method", "path", "expected"), OPERATIONS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_each_operation_documents_exactly_the_statuses_it_can_answer(schema, method, path,
                                                                      expected):
    assert statuses(schema, method, path) == expected


def test_every_error_answer_has_the_coded_error_shape(schema):
    errors = [(path, method, status, response)
              for path, operations in schema["paths"].items()
              for method, op in operations.items()
              for status, response in op["responses"].items() if status >= "400"]
    assert errors
    for path, method, status, response in errors:
        ref = response["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Error", (method, path, status)
    envelope = schema["components"]["schemas"]["Error"]
    assert envelope["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "details"}


@pytest.mark.parametrize("path", ["/api/v1/provisioning-requests/{request_id}",
                                  "/api/v1/transfers/{transfer_id}"])
def test_the_polled_reads_document_conditional_get(schema, path):
    op = operation(schema, "get", path)
    header = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
    assert header["If-None-Match"].get("required", False) is False
    assert "ETag" not in header  # a response header, not one the app sends
    assert "content" not in op["responses"]["304"]  # no body
    for status in ("200", "304"):
        assert {"ETag", "Cache-Control"} <= set(op["responses"][status]["headers"]), status


def test_a_rate_limited_answer_documents_retry_after(schema):
    response = operation(schema, "get", "/api/v1/tokens")["responses"]["429"]
    assert response["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_the_wrong_code_answer_says_it_is_422_with_attempts_left(schema):
    response = operation(schema, "post",
                         "/api/v1/provisioning-requests/{request_id}/verify")["responses"]["422"]
    assert "otp_invalid" in response["description"]
    assert "attempts_left" in response["description"]


@pytest.mark.parametrize(("path", "item"), [("/api/v1/provisioning-requests", "ProvisioningRequest"),
                                            ("/api/v1/tokens", "Token")])
def test_lists_are_cursor_paginated(schema, path, item):
    list_op = operation(schema, "get", path)
    ref = list_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"next", "previous", "results"}
    assert page["properties"]["results"]["items"]["$ref"] == f"#/components/schemas/{item}"
    parameters = {p["name"]: p for p in list_op["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert parameters["cursor"]["schema"]["type"] == "string"


def test_the_push_body_is_one_variant_per_wallet_told_apart_by_wallet(schema):
    body = operation(schema, "post", "/api/v1/provisioning-requests")["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    union = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert union["discriminator"]["propertyName"] == "wallet"
    assert set(union["discriminator"]["mapping"]) == set(wallets.WALLETS)
    assert len(union["oneOf"]) == len(wallets.WALLETS)


def _variant(schema, wallet: str) -> dict:
    union = schema["components"]["schemas"]["CreateProvisioningRequestRequest"]
    ref = union["discriminator"]["mapping"][wallet]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_the_apple_pay_variant_requires_its_apple_block(schema):
    variant = _variant(schema, "apple_pay")
    assert {"apple", "card_id", "device", "wallet"} <= set(variant["required"])
    assert variant["additionalProperties"] is False
    apple = schema["components"]["schemas"][variant["properties"]["apple"]["$ref"].rsplit("/")[-1]]
    assert set(apple["required"]) == {"certificates", "nonce", "nonce_signature"}
    assert apple["properties"]["nonce"]["pattern"] == wallets.base64_pattern(32)
    wallet = schema["components"]["schemas"][variant["properties"]["wallet"]["$ref"].rsplit("/")[-1]]
    assert wallet["enum"] == ["apple_pay"]


@pytest.mark.parametrize("wallet", ["google_pay", "samsung_pay"])
def test_other_variants_have_no_apple_block(schema, wallet):
    variant = _variant(schema, wallet)
    assert "apple" not in variant["properties"]
    assert variant["additionalProperties"] is False


def test_the_idempotency_key_header_carries_the_pattern_the_api_enforces(schema):
    from provisioning import idempotency

    header = next(p for p in operation(schema, "post", "/api/v1/provisioning-requests")["parameters"]
                  if p["name"] == "Idempotency-Key")
    assert header["required"] is True
    assert header["schema"]["pattern"] == IDEMPOTENCY_KEY_PATTERN
    assert header["schema"]["maxLength"] == idempotency.MAX_KEY_LENGTH


def test_a_push_links_to_the_operations_on_the_new_request(schema):
    links = operation(schema, "post", "/api/v1/provisioning-requests")["responses"]["202"]["links"]
    assert {link["parameters"]["request_id"] for link in links.values()} == {"$response.body#/id"}
    assert len(links) == 4
