"""Admin access: the `support` and `operations` groups the migration creates, and the
login lockout after repeated failures (django-axes): per username and address, and per
username from any address (PCI DSS 8.3.4)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission, User

from core.security import OPERATIONS_ACTIONS, SERVICE_APPS

PASSWORD = "correct horse battery staple"
ACTIONS = [f"{app}.{codename}" for app, codename in OPERATIONS_ACTIONS]


@pytest.fixture
def groups_from_migration():
    """The groups as `migrate` leaves them: core's post_migrate step syncs them from what
    core/security.py declares. Run here rather than trusted from the test database's
    set-up, because tests that use transactional_db (the integration suite) flush every
    table."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    Group.objects.filter(name__in=["support", "operations"]).delete()
    post_migrate.send(sender=apps.get_app_config("core"), app_config=apps.get_app_config("core"),
                      verbosity=0, interactive=False, using="default", apps=apps, plan=[])


def _member_of(group: str) -> User:
    user = User.objects.create_user(f"{group}-user", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh: permission caches empty


def _codenames(group: str) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name=group).permissions.select_related("content_type")}


@pytest.mark.django_db
def test_support_may_view_every_service_model_and_nothing_more(groups_from_migration):
    views = {f"{p.content_type.app_label}.{p.codename}"
             for p in Permission.objects.filter(content_type__app_label__in=SERVICE_APPS,
                                                codename__startswith="view_")}
    assert views and _codenames("support") == views
    assert {"provisioning.view_provisioningrequest", "tokens.view_token"} <= views


@pytest.mark.django_db
def test_support_cannot_change_anything_or_run_an_action(groups_from_migration):
    user = _member_of("support")
    assert user.has_perm("provisioning.view_provisioningrequest")
    assert not user.has_perm("provisioning.change_provisioningrequest")
    assert not any(user.has_perm(action) for action in ACTIONS)


@pytest.mark.django_db
def test_operations_may_view_change_and_act_but_never_add_or_delete(groups_from_migration):
    user = _member_of("operations")
    assert user.has_perm("provisioning.change_provisioningrequest")
    assert user.has_perm("tokens.change_token")
    assert all(user.has_perm(action) for action in ACTIONS)
    granted = _codenames("operations")
    assert not [p for p in granted if ".add_" in p or ".delete_" in p]
    assert {p.split(".")[0] for p in granted} == set(SERVICE_APPS)


@pytest.mark.django_db
def test_audit_records_are_read_only_even_for_operations(groups_from_migration):
    user = _member_of("operations")
    assert user.has_perm("core.view_transitionlog")
    assert not user.has_perm("core.change_transitionlog")
    assert not user.has_perm("tokens.change_webhookevent")


def _login(client, password: str, address: str = "10.1.1.1"):
    return client.post("/admin/login/?next=/admin/", {"username": "operator",
                                                       "password": password},
                       REMOTE_ADDR=address)


@pytest.fixture
def operator():
    return User.objects.create_user("operator", password=PASSWORD, is_staff=True)


@pytest.mark.django_db
def test_the_right_password_logs_in_before_any_failure(client, operator):
    response = _login(client, PASSWORD)
    assert response.status_code == 302 and client.session.get("_auth_user_id") == str(operator.pk)


@pytest.mark.django_db
def test_after_repeated_failures_even_the_right_password_is_refused(client, operator, settings):
    statuses = [_login(client, "wrong password").status_code
                for _ in range(settings.AXES_FAILURE_LIMIT)]
    refused = _login(client, PASSWORD)
    # The form again after each failure, until the one that reaches the limit locks.
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_lockout_is_per_username_and_address(client, operator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "wrong password", address="10.1.1.1")
    assert _login(client, PASSWORD, address="10.1.1.1").status_code == 429
    assert _login(client, PASSWORD, address="10.2.2.2").status_code == 302


@pytest.mark.django_db
def test_ten_failures_from_ten_addresses_lock_the_username_everywhere(client, operator, settings):
    assert settings.ADMIN_LOGIN_USERNAME_FAILURE_LIMIT <= 10  # PCI DSS 8.3.4: at most 10
    statuses = [_login(client, "wrong password", address=f"10.9.0.{n}").status_code
                for n in range(1, settings.ADMIN_LOGIN_USERNAME_FAILURE_LIMIT + 1)]
    # No single address reached its own limit; the last failure reached the username's.
    assert statuses == [200] * (settings.ADMIN_LOGIN_USERNAME_FAILURE_LIMIT - 1) + [429]
    refused = _login(client, PASSWORD, address="10.9.9.9")
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_one_failure_short_of_the_username_limit_still_logs_in_elsewhere(client, operator,
                                                                         settings):
    for n in range(1, settings.ADMIN_LOGIN_USERNAME_FAILURE_LIMIT):
        _login(client, "wrong password", address=f"10.9.0.{n}")
    assert _login(client, PASSWORD, address="10.9.9.9").status_code == 302


@pytest.mark.django_db
def test_the_username_lockout_does_not_lock_other_operators(client, operator, settings):
    User.objects.create_user("colleague", password=PASSWORD, is_staff=True)
    for n in range(1, settings.ADMIN_LOGIN_USERNAME_FAILURE_LIMIT + 1):
        _login(client, "wrong password", address=f"10.9.0.{n}")
    response = client.post("/admin/login/?next=/admin/",
                           {"username": "colleague", "password": PASSWORD}, REMOTE_ADDR="10.9.0.1")
    assert response.status_code == 302


@pytest.mark.django_db
def test_the_documented_command_unlocks_a_locked_operator(client, operator, settings):
    from django.core.management import call_command

    for n in range(1, settings.ADMIN_LOGIN_USERNAME_FAILURE_LIMIT + 1):
        _login(client, "wrong password", address=f"10.9.0.{n}")
    assert _login(client, PASSWORD, address="10.9.9.9").status_code == 429
    call_command("axes_reset_username", "operator", stdout=StringIO())
    assert _login(client, PASSWORD, address="10.9.9.9").status_code == 302


@pytest.mark.django_db
def test_failed_admin_logins_are_recorded(client, operator):
    from axes.models import AccessAttempt

    _login(client, "wrong password")
    attempt = AccessAttempt.objects.get(username="operator")
    assert attempt.failures_since_start == 1
    assert "wrong password" not in attempt.post_data


def test_admin_sessions_expire_after_fifteen_idle_minutes(settings):
    assert settings.SESSION_COOKIE_AGE <= 15 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
