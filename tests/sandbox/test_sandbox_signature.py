"""The token service's HTTP Signature check, against a signer written in the tests."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from email.utils import formatdate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.httpsig import SignatureError, verify_request

pytestmark = []


def provision_body(tms):
    return tms.provision_body("req_sig")


def assert_rejected(response, tms, reason):
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert response.json()["error"]["reason"] == reason
    stats = tms.stats()
    assert stats["signature_failures"] == 1
    assert stats["signature_failure_reasons"] == {reason: 1}


def test_correctly_signed_post_is_accepted(tms):
    response = tms.call("POST", "/tms/v2/tokens", provision_body(tms), key="req_sig")

    assert response.status_code == 201
    assert tms.stats()["signature_failures"] == 0


def test_correctly_signed_get_without_digest_is_accepted(tms):
    response = tms.call("GET", "/tms/v2/provisions/req_none")

    assert response.status_code == 404  # past the signature check, to the lookup
    assert response.json()["error"]["code"] == "not_found"


def test_tampered_body_is_rejected(tms):
    body = provision_body(tms)
    signed_for = json.dumps({**body, "wallet": "samsung_pay"}).encode()

    response = tms.call("POST", "/tms/v2/tokens", body, key="req_sig", digest_body=signed_for)

    assert_rejected(response, tms, "digest_mismatch")


def test_body_changed_after_signing_with_matching_digest_is_rejected(tms, signer):
    original = json.dumps(provision_body(tms)).encode()
    headers = signer.headers("POST", "/tms/v2/tokens", original)
    forged = original.replace(b"google_pay", b"apple_pay")
    headers["Digest"] = "SHA-256=" + base64.b64encode(hashlib.sha256(forged).digest()).decode()

    response = tms.client.post(
        "/tms/v2/tokens", content=forged, headers={**headers, "Idempotency-Key": "req_sig"}
    )

    assert_rejected(response, tms, "signature_mismatch")


def test_wrong_shared_secret_is_rejected(tms):
    response = tms.call(
        "POST",
        "/tms/v2/tokens",
        provision_body(tms),
        key="req_sig",
        secret=b"not the shared secret",
    )

    assert_rejected(response, tms, "signature_mismatch")


def test_unknown_key_id_is_rejected(tms):
    response = tms.call("GET", "/tms/v2/tokens/tok_x", key_id="someone-else")

    assert_rejected(response, tms, "unknown_key")


def test_wrong_merchant_is_rejected(tms):
    response = tms.call("GET", "/tms/v2/tokens/tok_x", merchant_id="other_merchant")

    assert_rejected(response, tms, "unknown_merchant")


def test_post_without_digest_is_rejected(tms):
    response = tms.call(
        "POST", "/tms/v2/tokens", provision_body(tms), key="req_sig", with_digest=False
    )

    assert_rejected(response, tms, "unexpected_headers")


def test_get_signed_with_a_digest_line_is_rejected(tms):
    response = tms.call("GET", "/tms/v2/tokens/tok_x", with_digest=True)

    assert_rejected(response, tms, "unexpected_headers")


# Date has whole seconds, so stay clear of the exact boundary on either side.
@pytest.mark.parametrize("skew", [-310, 310])
def test_date_more_than_five_minutes_off_is_rejected(tms, skew):
    response = tms.call(
        "GET", "/tms/v2/tokens/tok_x", date=formatdate(time.time() + skew, usegmt=True)
    )

    assert_rejected(response, tms, "stale_date")


@pytest.mark.parametrize("skew", [-290, 290])
def test_date_within_five_minutes_is_accepted(tms, skew):
    response = tms.call(
        "GET", "/tms/v2/tokens/tok_x", date=formatdate(time.time() + skew, usegmt=True)
    )

    assert response.status_code == 404
    assert tms.stats()["signature_failures"] == 0


def test_date_that_is_not_imf_fixdate_is_rejected(tms):
    response = tms.call("GET", "/tms/v2/tokens/tok_x", date=formatdate(usegmt=False))

    assert_rejected(response, tms, "bad_date")


def test_missing_signature_is_rejected(tms):
    response = tms.client.get("/tms/v2/tokens/tok_x")

    assert_rejected(response, tms, "missing_signature")


def test_request_target_includes_the_query_string(tms):
    signed_with_query = tms.call("GET", "/tms/v2/tokens/tok_x?expand=1")
    assert signed_with_query.status_code == 404

    headers = tms.signer.headers("GET", "/tms/v2/tokens/tok_x")
    signed_without = tms.client.get("/tms/v2/tokens/tok_x?expand=1", headers=headers)
    assert_rejected(signed_without, tms, "signature_mismatch")


def test_host_other_than_the_signed_one_is_rejected(tms, signer):
    headers = signer.headers("GET", "/tms/v2/tokens/tok_x", host="tms.example.com")
    headers["Host"] = "testserver"

    assert_rejected(
        tms.client.get("/tms/v2/tokens/tok_x", headers=headers), tms, "signature_mismatch"
    )


# property: the verifier agrees with the test signer, and only with it ---------------------

_paths = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/", min_size=1, max_size=40)


class _Headers(dict):
    """Case-insensitive lookups, as Starlette's Headers give the real verifier."""

    def get(self, name, default=None):
        return super().get(name.lower(), default)


def _lower(headers):
    return _Headers({k.lower(): v for k, v in headers.items()})


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    path=_paths,
    body=st.binary(max_size=200),
)
def test_any_signed_request_verifies(signer, keys, method, path, body):
    target = "/tms/" + path
    body = body if method in {"POST", "PUT"} else b""
    headers = _lower(signer.headers(method, target, body))

    verify_request(
        method=method,
        target=target,
        headers=headers,
        body=body,
        key_id=keys["token_service_key_id"],
        secret=base64.b64decode(keys["token_service_shared_secret"]),
        merchant_id=keys["merchant_id"],
    )


@settings(max_examples=60, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0))
def test_any_changed_byte_of_a_signed_body_is_caught(signer, keys, body, flip):
    headers = _lower(signer.headers("POST", "/tms/v2/tokens", body))
    position = flip % len(body)
    changed = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]

    with pytest.raises(SignatureError) as caught:
        verify_request(
            method="POST",
            target="/tms/v2/tokens",
            headers=headers,
            body=changed,
            key_id=keys["token_service_key_id"],
            secret=base64.b64decode(keys["token_service_shared_secret"]),
            merchant_id=keys["merchant_id"],
        )
    assert caught.value.reason == "digest_mismatch"
