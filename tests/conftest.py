"""Fixtures shared by every Django test: API clients with customer tokens."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from config.auth import mint_dev_token


@pytest.fixture
def customer_id() -> str:
    return "cust_demo"


@pytest.fixture
def api_client(customer_id) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_dev_token(customer_id)}")
    return client


@pytest.fixture
def other_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_dev_token('cust_other')}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()
