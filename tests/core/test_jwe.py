"""JWE for card data: RSA-OAEP-256 + A256GCM round trip, and nothing else accepted."""

import base64
import json

import pytest
from django.conf import settings
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st
from joserfc.errors import JoseError

from core import dev_keys
from core.crypto import jwe


def _private_pem():
    return dev_keys.load(settings.DEV_KEYS_FILE)["token_service_jwe_private_pem"]


def _header(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


CARD = {"pan": "4111111111111111", "expiry_month": "12", "expiry_year": "2029",
        "cardholder_name": "A N Other"}


def test_card_round_trips_through_the_jwe():
    token = jwe.encrypt_card(CARD, settings.TOKEN_SERVICE_JWE_PUBLIC_KEY)
    assert jwe.decrypt_card(token, _private_pem()) == CARD


def test_jwe_header_names_rsa_oaep_256_and_a256gcm_and_hides_the_pan():
    token = jwe.encrypt_card(CARD, settings.TOKEN_SERVICE_JWE_PUBLIC_KEY)
    assert _header(token)["alg"] == "RSA-OAEP-256"
    assert _header(token)["enc"] == "A256GCM"
    assert len(token.split(".")) == 5
    assert CARD["pan"] not in token


def test_tampered_jwe_does_not_decrypt():
    token = jwe.encrypt_card(CARD, settings.TOKEN_SERVICE_JWE_PUBLIC_KEY)
    parts = token.split(".")
    parts[3] = ("A" if parts[3][0] != "A" else "B") + parts[3][1:]
    with pytest.raises(JoseError):
        jwe.decrypt_card(".".join(parts), _private_pem())


@hsettings(max_examples=25, deadline=None)
@given(pan=st.from_regex(r"\A[0-9]{13,19}\Z"), name=st.text(max_size=40))
def test_any_card_round_trips(pan, name):
    card = {"pan": pan, "expiry_month": "01", "expiry_year": "2030", "cardholder_name": name}
    token = jwe.encrypt_card(card, settings.TOKEN_SERVICE_JWE_PUBLIC_KEY)
    assert jwe.decrypt_card(token, _private_pem()) == card
