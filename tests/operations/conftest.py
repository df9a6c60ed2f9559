"""Admin users for the operations tests: a support user who may look, an operations user
who may also act. Permissions are given directly, so these tests do not depend on the
groups migration."""

from __future__ import annotations

import pytest

SUPPORT_PERMISSIONS = ("provisioning.view_provisioningrequest", "core.view_transitionlog",
                       "tokens.view_token")
OPERATIONS_PERMISSIONS = SUPPORT_PERMISSIONS + (
    "provisioning.retry_provisioningrequest", "provisioning.cancel_provisioningrequest",
    "provisioning.expire_provisioningrequest", "tokens.act_on_token")


def make_staff_user(username: str, permissions, password: str = "correct horse battery"):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user(username, password=password, is_staff=True)
    for dotted in permissions:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                         codename=codename))
    return User.objects.get(pk=user.pk)  # a fresh copy: no stale permission cache


@pytest.fixture
def support_user(db):
    return make_staff_user("support_amina", SUPPORT_PERMISSIONS)


@pytest.fixture
def operations_user(db):
    return make_staff_user("ops_brian", OPERATIONS_PERMISSIONS)


def logged_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def support_client(support_user):
    return logged_in(support_user)


@pytest.fixture
def operations_client(operations_user):
    return logged_in(operations_user)
