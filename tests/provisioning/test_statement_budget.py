"""SQL statements per green provisioning, counted the way `bench --profile queries` counts
them (every statement the database connection executes; BEGIN and COMMIT are not
statements Django sends through it): the create, the one worker task from `received` to
`provisioned`, and the "card added" push.

A budget, not a timing: a change that adds a statement to the hot path fails here and
has to say why, in this file. docs/performance.md keeps the history.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import pytest
from django.db import connection

from notifications import services as notification_services
from notifications import tasks as notification_tasks
from notifications.models import Device, Notification, Status
from provisioning import tasks
from provisioning.models import ProvisioningRequest, State
from tests.notifications.conftest import FakeGateway
from tokens.models import Token, TokenState

from .api_support import body, post
from .stubs import StubTokenService, stub_clients  # noqa: F401 (autouse)

# create: key claim, advisory lock, "live token or push under way?", insert, key completion
CREATE_BUDGET = 5
# the task: the claim (UPDATE ... RETURNING); eligibility's facts (one read; the rule set
# is read once per DECISION_RULES_CACHE_SECONDS), its move (log + update, the token request's first attempt counted with it) and
# rule results; the token request on the same row: the fingerprint check and the move to
# token_requested (log + update); provisioned: log + update, the token (log + insert),
# the outbox row (the customer's profile read inside its INSERT)
TASK_BUDGET = 13
# the notice: the claim (UPDATE ... RETURNING, the device's push token with it), the
# outcome (one UPDATE fenced by the claim)
NOTICE_BUDGET = 2


@contextmanager
def counted():
    statements: list[str] = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield statements


@pytest.fixture
def held_tasks(monkeypatch):
    """What the create and the task would publish, held here to run in this process."""
    held: dict[str, list] = {"steps": [], "notices": []}
    monkeypatch.setattr(tasks.check_eligibility_task, "delay_on_commit",
                        lambda request_id: held["steps"].append(request_id))
    monkeypatch.setattr(notification_tasks.send_notification_task, "delay_on_commit",
                        lambda notification_id: held["notices"].append(notification_id))
    push = FakeGateway("push")
    monkeypatch.setattr(notification_services, "PushGatewayClient", lambda: push)
    return held


@pytest.mark.django_db(transaction=True)
def test_a_green_provisioning_stays_within_its_statement_budget(api_client, held_tasks,
                                                                settings):
    # As deployed: each process reads the rule set at most every few seconds (the test
    # settings read it for every push, for the live worker's sake).
    settings.DECISION_RULES_CACHE_SECONDS = 60
    Device.objects.create(customer_id="cust_demo", device_id="device-1", push_token="fcm-1",
                          platform="android")
    # A first push warms what is read once per process or per TTL (content types, the
    # rule set), as a bench run's processes are warm.
    warm = post(api_client, body(device={"id": "device-0", "type": "phone", "os": "android-15"}))
    tasks.check_eligibility_task.apply(args=[warm.json()["id"]])
    held_tasks["steps"].clear()
    StubTokenService.decision = dataclasses.replace(StubTokenService.decision,
                                                    token_ref="tkn_2")

    with counted() as create:
        response = post(api_client)
    assert response.status_code == 202, response.content
    request_id = response.json()["id"]
    assert held_tasks["steps"] == [request_id]

    with counted() as task:
        tasks.check_eligibility_task.apply(args=[request_id])
    request = ProvisioningRequest.objects.get(pk=request_id)
    assert request.state == State.PROVISIONED
    assert Token.objects.get(provisioning_request=request).state == TokenState.ACTIVE
    notice_id = held_tasks["notices"][-1]

    with counted() as notice:
        notification_tasks.send_notification_task.apply(args=[notice_id])
    assert Notification.objects.get(pk=notice_id).status == Status.SENT

    spent = {"create": len(create), "task": len(task), "notice": len(notice)}
    assert spent == {"create": CREATE_BUDGET, "task": TASK_BUDGET, "notice": NOTICE_BUDGET}, \
        "\n".join(f"{name}:\n  " + "\n  ".join(sql[:150] for sql in statements)
                  for name, statements in (("create", create), ("task", task),
                                           ("notice", notice)))
    assert sum(spent.values()) == 20
