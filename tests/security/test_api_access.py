"""Who gets in to the wallet-app API: JWT keys rotate by kid, exp/nbf have a small leeway,
every object is scoped to its customer, and rate and size limits answer with coded errors."""

from __future__ import annotations

import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from joserfc import jwt
from joserfc.jwk import RSAKey
from rest_framework.test import APIClient

from core import dev_keys
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tests.security.support import api_v1_patterns
from tests.transfers.factories import PayeeFactory, TransferFactory
from tokens.models import Token
from transfers.models import Payee, Transfer

LIST_URL = "/api/v1/provisioning-requests"


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"iss": django_settings.JWT_ISSUER, "aud": django_settings.JWT_AUDIENCE,
              "sub": "cust_demo", "iat": now, "nbf": now, "exp": now + 600}
    claims.update(overrides)
    return claims


def _dev_token(**overrides) -> str:
    keys = dev_keys.load(django_settings.DEV_KEYS_FILE)
    return jwt.encode({"alg": "RS256", "kid": keys["jwt_kid"]}, _claims(**overrides),
                      RSAKey.import_key(keys["jwt_private_pem"]))


def _client(token: str, **extra) -> APIClient:
    client = APIClient(**extra)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def second_idp_key():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    return "idp-2", public_pem, private_pem


def _token_with(kid: str, private_pem: str) -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, _claims(), RSAKey.import_key(private_pem))


# --- JWT keys and leeway ----------------------------------------------------------------

@pytest.mark.django_db
def test_tokens_signed_by_either_key_are_accepted_while_both_are_published(settings,
                                                                           second_idp_key):
    kid, public_pem, private_pem = second_idp_key
    settings.JWT_PUBLIC_KEYS = {**settings.JWT_PUBLIC_KEYS, kid: public_pem}
    assert _client(_dev_token()).get(LIST_URL).status_code == 200
    assert _client(_token_with(kid, private_pem)).get(LIST_URL).status_code == 200


@pytest.mark.django_db
def test_a_token_whose_kid_was_removed_is_refused(settings, second_idp_key):
    kid, public_pem, private_pem = second_idp_key
    settings.JWT_PUBLIC_KEYS = {kid: public_pem}
    response = _client(_dev_token()).get(LIST_URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert _client(_token_with(kid, private_pem)).get(LIST_URL).status_code == 200


@pytest.mark.django_db
def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(second_idp_key):
    _, _, private_pem = second_idp_key
    keys = dev_keys.load(django_settings.DEV_KEYS_FILE)
    assert _client(_token_with(keys["jwt_kid"], private_pem)).get(LIST_URL).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("claim,offset,status", [
    ("exp", -20, 200),   # expired 20 s ago: inside the 30 s leeway
    ("exp", -60, 401),
    ("nbf", 20, 200),    # valid from 20 s from now: clock skew, accepted
    ("nbf", 60, 401),
])
def test_exp_and_nbf_allow_a_small_leeway_and_no_more(settings, claim, offset, status):
    assert settings.JWT_LEEWAY_SECONDS == 30
    now = int(time.time())
    overrides = {claim: now + offset}
    if claim == "exp":
        overrides.update(iat=now - 600, nbf=now - 600)
    assert _client(_dev_token(**overrides)).get(LIST_URL).status_code == status


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["exp", "iss", "aud", "sub"])
def test_a_token_without_an_essential_claim_is_refused(missing):
    claims = _claims()
    claims.pop(missing)
    keys = dev_keys.load(django_settings.DEV_KEYS_FILE)
    token = jwt.encode({"alg": "RS256", "kid": keys["jwt_kid"]}, claims,
                       RSAKey.import_key(keys["jwt_private_pem"]))
    assert _client(token).get(LIST_URL).status_code == 401


@pytest.mark.django_db
def test_a_server_configured_with_a_symmetric_algorithm_refuses_every_token(settings):
    settings.JWT_ALGORITHM = "HS256"
    assert _client(_dev_token()).get(LIST_URL).status_code == 401


# --- per-customer scoping ---------------------------------------------------------------

def _object_routes():
    """Every API v1 route that names one object, as (route, parameter name)."""
    for route, pattern in api_v1_patterns():
        if pattern.pattern.converters:
            yield route, next(iter(pattern.pattern.converters))


OTHERS_OBJECTS = {
    # parameter name → a row of another customer that the route would act on
    "request_id": lambda: ProvisioningRequestFactory(customer_id="cust_other",
                                                     state=State.STEP_UP_REQUIRED).pk,
    "token_id": lambda: TokenFactory(customer_id="cust_other").pk,
    "payee_id": lambda: PayeeFactory(customer_id="cust_other").pk,
    "transfer_id": lambda: TransferFactory(quote__payee__customer_id="cust_other").pk,
}


def _rows():
    return (list(ProvisioningRequest.objects.values()), list(Token.objects.values()),
            list(Payee.objects.values()), list(Transfer.objects.values()))


def test_every_object_route_of_the_api_is_covered_by_the_scoping_test():
    routes = list(_object_routes())
    assert routes, "no object routes found"
    assert {param for _, param in routes} <= set(OTHERS_OBJECTS)


@pytest.mark.django_db
@pytest.mark.parametrize("route,param", list(_object_routes()))
def test_another_customers_object_is_404_on_every_route_and_stays_unchanged(api_client, route,
                                                                            param):
    object_id = OTHERS_OBJECTS[param]()
    url = "/" + route.replace(f"<str:{param}>", str(object_id))
    before = _rows()
    statuses = {
        "get": api_client.get(url).status_code,
        "post": api_client.post(url, {"otp": "123456"}, format="json",
                                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())).status_code,
        "delete": api_client.delete(url).status_code,
    }
    assert 404 in statuses.values(), statuses
    assert all(code in (404, 405) for code in statuses.values()), statuses
    assert _rows() == before


# --- throttling ---------------------------------------------------------------------------

@pytest.fixture
def low_rates(throttle_rates):
    return throttle_rates(customer="3/min", client_ip="5/min")


@pytest.mark.django_db
def test_a_customer_over_the_rate_gets_429_with_retry_after(low_rates):
    client = _client(_dev_token(), REMOTE_ADDR="10.0.0.1")
    statuses = [client.get(LIST_URL).status_code for _ in range(3)]
    limited = client.get(LIST_URL)
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["details"]["retry_after_seconds"] == int(limited["Retry-After"])


@pytest.mark.django_db
def test_the_customer_limit_follows_the_customer_across_addresses(low_rates):
    for n in range(3):
        assert _client(_dev_token(), REMOTE_ADDR=f"10.0.1.{n}").get(LIST_URL).status_code == 200
    assert _client(_dev_token(), REMOTE_ADDR="10.0.1.9").get(LIST_URL).status_code == 429


@pytest.mark.django_db
def test_one_address_over_the_rate_gets_429_whoever_calls(low_rates):
    statuses = [_client(_dev_token(sub=f"cust_{n}"), REMOTE_ADDR="10.0.2.1").get(LIST_URL)
                .status_code for n in range(5)]
    limited = _client(_dev_token(sub="cust_new"), REMOTE_ADDR="10.0.2.1").get(LIST_URL)
    assert statuses == [200] * 5
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    other_address = _client(_dev_token(sub="cust_new"), REMOTE_ADDR="10.0.2.2").get(LIST_URL)
    assert other_address.status_code == 200


@pytest.mark.django_db
def test_a_request_counts_both_scopes_in_one_round_trip(low_rates, monkeypatch):
    from core import throttling

    calls = []
    real = throttling.count_in_windows

    def spy(windows):
        calls.append([key.split(":")[1] for key, _ in windows])
        return real(windows)

    monkeypatch.setattr(throttling, "count_in_windows", spy)
    assert _client(_dev_token(), REMOTE_ADDR="10.0.5.1").get(LIST_URL).status_code == 200
    assert calls == [["customer", "client_ip"]]


@pytest.mark.django_db
def test_a_refusal_in_one_scope_still_counts_the_other(low_rates):
    client = _client(_dev_token(sub="cust_busy"), REMOTE_ADDR="10.0.6.1")
    assert [client.get(LIST_URL).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
    # The address's window counted all five, the refused ones too, as DRF asks every
    # throttle of a view: the next customer from it is over the address's rate.
    fresh = _client(_dev_token(sub="cust_fresh"), REMOTE_ADDR="10.0.6.1").get(LIST_URL)
    assert fresh.status_code == 429


def _six_customers_from(remote_addr: str, forwarded_for: str) -> list[int]:
    """Statuses of six customers' reads from one address, each with its own forwarded-for
    header (`forwarded_for` formatted with the customer's number)."""
    return [_client(_dev_token(sub=f"cust_{n}"), REMOTE_ADDR=remote_addr,
                    HTTP_X_FORWARDED_FOR=forwarded_for.format(n=n)).get(LIST_URL).status_code
            for n in range(6)]


@pytest.mark.django_db
def test_an_invented_forwarded_address_does_not_reset_the_ip_limit(low_rates):
    low_rates.TRUSTED_PROXY_COUNT = 0
    assert _six_customers_from("10.0.3.1", "198.51.100.{n}") == [200] * 5 + [429]


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_client_address_is_limited(low_rates):
    low_rates.TRUSTED_PROXY_COUNT = 1
    # The client forges a first entry; the proxy appends the real address last.
    assert _six_customers_from("10.9.9.9", "6.6.6.{n}, 203.0.113.7") == [200] * 5 + [429]
    fresh = _client(_dev_token(sub="cust_x"), REMOTE_ADDR="10.9.9.9",
                    HTTP_X_FORWARDED_FOR="203.0.113.8").get(LIST_URL)
    assert fresh.status_code == 200


# --- body size ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_api_body_over_the_limit_is_a_coded_413_and_creates_nothing(api_client, settings):
    settings.REQUEST_MAX_BYTES = 2048
    body = {"card_id": "card_green", "wallet": "google_pay",
            "device": {"id": "d" * 64, "type": "phone", "os": "android-15"},
            "wallet_account_id": "x" * 4096}
    response = api_client.post(LIST_URL, body, format="json",
                               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.json()["error"]["details"] == {"max_bytes": 2048}
    assert not ProvisioningRequest.objects.exists()


@pytest.mark.django_db
def test_a_form_post_over_djangos_upload_limit_is_a_coded_400_not_a_500(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post("/admin/login/", {"username": "x", "password": "y" * 4096})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
def test_a_malformed_content_length_is_a_coded_400(api_client):
    response = api_client.generic("POST", LIST_URL, "{}", content_type="application/json",
                                  CONTENT_LENGTH="abc")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
@pytest.mark.parametrize("declared", ["٣٠", "３０", "-1", "1e3", " 12x"])
def test_a_content_length_that_is_not_ascii_digits_is_a_coded_400(api_client, declared):
    response = api_client.generic("POST", LIST_URL, "{}", content_type="application/json",
                                  CONTENT_LENGTH=declared)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert not ProvisioningRequest.objects.exists()
