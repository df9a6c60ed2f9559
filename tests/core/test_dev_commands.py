"""The dev-only management commands the demo uses: mint_token (one token per customer id
given) and create_staff_user (an admin user in named groups)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from core.auth import decode_customer_token


def test_mint_token_prints_one_token_per_customer_in_order():
    out = StringIO()
    call_command("mint_token", "cust_a", "cust_b", stdout=out)
    tokens = out.getvalue().split()
    assert [decode_customer_token(t).customer_id for t in tokens] == ["cust_a", "cust_b"]


@pytest.mark.django_db
def test_create_staff_user_makes_an_operator_who_may_review_transfers(monkeypatch):
    monkeypatch.setenv("STAFF_USER_PASSWORD", "correct horse battery")
    call_command("create_staff_user", "ops_demo", "--group", "operations", stdout=StringIO())
    user = get_user_model().objects.get(username="ops_demo")
    assert user.is_staff and not user.is_superuser
    assert user.check_password("correct horse battery")
    assert user.has_perm("transfers.review_transfer")


@pytest.mark.django_db
def test_create_staff_user_refuses_an_unknown_group(monkeypatch):
    monkeypatch.setenv("STAFF_USER_PASSWORD", "correct horse battery")
    with pytest.raises(CommandError, match="No such group"):
        call_command("create_staff_user", "ops_demo", "--group", "nobody")
    assert not get_user_model().objects.filter(username="ops_demo").exists()


@pytest.mark.django_db
def test_create_staff_user_refuses_without_a_dev_signing_key(monkeypatch, settings):
    settings.JWT_DEV_SIGNING_KEY = ""
    monkeypatch.setenv("STAFF_USER_PASSWORD", "correct horse battery")
    with pytest.raises(CommandError, match="Not here"):
        call_command("create_staff_user", "ops_demo", "--group", "operations")
