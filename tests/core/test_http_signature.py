"""The token-service HTTP Signature against worked vectors computed with openssl:

    printf 'host: ...\\ndate: ...\\nrequest-target: ...\\ndigest: ...\\nv-c-merchant-id: ...' \\
      | openssl dgst -sha256 -mac HMAC -macopt key:sandbox-shared-secret-0123456789 -binary | base64
"""

import base64

from hypothesis import given
from hypothesis import strategies as st

from core.outside import http_signature

SECRET_B64 = base64.b64encode(b"sandbox-shared-secret-0123456789").decode()
DATE = "Tue, 24 Nov 2026 05:00:00 GMT"
BODY = b'{"request_id":"8f1c","wallet":"google_pay"}'


def test_post_signature_matches_the_worked_vector():
    headers = http_signature.sign_request(
        method="POST", url="https://api.tokens.example:443/tms/v2/tokens", body=BODY,
        merchant_id="mpesa_wallet", key_id="key-serial-1", shared_secret_b64=SECRET_B64,
        date=DATE,
    )
    assert headers["Digest"] == "SHA-256=JJ/lgrJHKRkyQoj3YeYiA9/Wux8OX4WgOc6bTljfolg="
    assert headers["Signature"] == (
        'keyid="key-serial-1", algorithm="HmacSHA256", '
        'headers="host date request-target digest v-c-merchant-id", '
        'signature="P3kML/By8jFQJWdWR5gcXFBvXPlrE6z7AXVI6i+Prkw="'
    )
    assert headers["v-c-merchant-id"] == "mpesa_wallet"
    assert headers["Date"] == DATE
    assert headers["Host"] == "api.tokens.example:443"


def test_get_signature_leaves_out_the_digest_and_matches_the_worked_vector():
    headers = http_signature.sign_request(
        method="GET", url="https://api.tokens.example:443/tms/v2/tokens/tkn_1", body=None,
        merchant_id="mpesa_wallet", key_id="key-serial-1", shared_secret_b64=SECRET_B64,
        date=DATE,
    )
    assert "Digest" not in headers
    assert 'headers="host date request-target v-c-merchant-id"' in headers["Signature"]
    assert 'signature="CkNc6eajzHR7cSyJi6TLTEfH5UzNFPH+WP/oPu1ADMs="' in headers["Signature"]


def test_signing_string_has_one_lowercase_line_per_header_and_no_trailing_newline():
    values = {"host": "h", "date": "d", "request-target": "post /p", "digest": "SHA-256=x",
              "v-c-merchant-id": "m"}
    text = http_signature.signing_string(values, http_signature.signed_header_names("POST"))
    assert text == "host: h\ndate: d\nrequest-target: post /p\ndigest: SHA-256=x\nv-c-merchant-id: m"


def test_date_header_is_rfc_7231_gmt():
    assert http_signature.http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


@given(body=st.binary(max_size=512), other=st.binary(max_size=512))
def test_any_change_to_the_body_changes_the_signature(body, other):
    def sign(payload):
        return http_signature.sign_request(
            method="POST", url="http://h/tms/v2/tokens", body=payload, merchant_id="m",
            key_id="k", shared_secret_b64=SECRET_B64, date=DATE)["Signature"]

    assert (sign(body) == sign(other)) == (body == other)
