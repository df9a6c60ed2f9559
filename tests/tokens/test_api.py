"""Token API: own tokens only, 202 on legal changes, 409 on illegal ones."""

import pytest

from tests.factories import TokenFactory
from tokens.models import Token, TokenState

URL = "/api/v1/tokens"


@pytest.mark.django_db
def test_list_shows_only_my_tokens(api_client, customer_id):
    mine = TokenFactory(customer_id=customer_id,
                        provisioning_request__customer_id=customer_id)
    TokenFactory(customer_id="cust_other")
    results = api_client.get(URL).json()["results"]
    assert [item["id"] for item in results] == [str(mine.pk)]
    assert results[0]["last4"] == mine.token_last4


@pytest.mark.django_db
def test_another_customers_token_is_404(api_client):
    theirs = TokenFactory(customer_id="cust_other")
    assert api_client.get(f"{URL}/{theirs.pk}").status_code == 404
    assert api_client.post(f"{URL}/{theirs.pk}/suspend").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("operation,state", [("suspend", TokenState.ACTIVE),
                                             ("resume", TokenState.SUSPENDED),
                                             ("delete", TokenState.ACTIVE),
                                             ("delete", TokenState.INACTIVE)])
def test_legal_change_is_202_and_waits_for_the_token_service(api_client, customer_id,
                                                              operation, state):
    token = TokenFactory(customer_id=customer_id, state=state)
    response = api_client.post(f"{URL}/{token.pk}/{operation}")
    assert response.status_code == 202
    stored = Token.objects.get(pk=token.pk)
    assert stored.state == state  # moves only once the token service has done it
    assert stored.operations_requested == 1


@pytest.mark.django_db
@pytest.mark.parametrize("operation,state", [("suspend", TokenState.SUSPENDED),
                                             ("resume", TokenState.ACTIVE),
                                             ("suspend", TokenState.DELETED),
                                             ("delete", TokenState.DELETED),
                                             ("resume", TokenState.INACTIVE)])
def test_illegal_change_is_409(api_client, customer_id, operation, state):
    token = TokenFactory(customer_id=customer_id, state=state)
    response = api_client.post(f"{URL}/{token.pk}/{operation}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_token_state"
    assert Token.objects.get(pk=token.pk).operations_requested == 0
