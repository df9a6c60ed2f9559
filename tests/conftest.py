"""Fixtures shared by every Django test: API clients with customer tokens."""

from __future__ import annotations

import pytest


@pytest.fixture
def customer_id() -> str:
    return "cust_demo"


@pytest.fixture
def api_client(customer_id):
    from rest_framework.test import APIClient

    from config.auth import mint_dev_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_dev_token(customer_id)}")
    return client


@pytest.fixture
def other_client():
    from rest_framework.test import APIClient

    from config.auth import mint_dev_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_dev_token('cust_other')}")
    return client


@pytest.fixture
def anon_client():
    from rest_framework.test import APIClient

    return APIClient()
