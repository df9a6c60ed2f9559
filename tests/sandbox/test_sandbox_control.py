"""Control plane: health, stats shape and reset."""

from __future__ import annotations

pytestmark = []


def test_health_is_ok(client):
    response = client.get("/sandbox/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_stats_count_calls_per_system_and_operation(tms, keys):
    tms.provision("req_1")
    tms.call("GET", "/tms/v2/provisions/req_1")
    tms.client.get(
        "/telco/v1/subscribers/+254700000100/sim-swap",
        headers={"Authorization": f"Bearer {keys['issuer_api_key']}"},
    )

    calls = tms.stats()["calls"]

    assert calls["token_service"] == {"provision": 1, "provision_status": 1}
    assert calls["telco"] == {"sim_swap": 1}
    assert calls["issuer"] == {} and calls["push"] == {} and calls["sms"] == {}


def test_reset_forgets_everything_but_cards(tms, keys):
    client = tms.client
    token_ref = tms.provision("req_1").json()["token_ref"]
    client.post(
        "/sms/v1/messages",
        json={"to": "+254700000100", "text": "x", "reference": "r"},
        headers={"Authorization": f"Bearer {keys['gateway_api_key']}"},
    )
    client.post("/sandbox/faults", json={"system": "sms", "error_rate": 1})
    tms.client.get("/tms/v2/tokens/x")  # unsigned: a signature failure

    assert client.post("/sandbox/reset").status_code == 200

    stats = tms.stats()
    assert stats["calls"]["token_service"] == {}
    assert stats["signature_failures"] == 0
    assert stats["idempotency"]["keys"] == 0
    assert stats["messages"]["total"] == 0
    assert client.get("/sandbox/messages").json()["messages"] == []
    assert client.get("/sandbox/faults").json() == {"faults": {}}
    assert tms.token(token_ref).status_code == 404
    assert tms.call("GET", "/tms/v2/provisions/req_1").status_code == 404
    assert len(client.get("/sandbox/cards").json()["cards"]) == 9
    assert tms.provision("req_1").status_code == 201  # the key is free again


def test_reset_abandons_a_pending_late_decision(make_client, make_tms, wait):
    tms = make_tms(make_client(SANDBOX_LATE_DECISION_SECONDS="0.2"))
    tms.provision("req_late", "4000000000000036")

    tms.client.post("/sandbox/reset")
    tms.provision("req_after", "4000000000000036")  # decided after req_late would have been

    wait(lambda: tms.call("GET", "/tms/v2/provisions/req_after").json()["decision"] == "green")
    assert tms.call("GET", "/tms/v2/provisions/req_late").status_code == 404
    assert [t["request_id"] for t in tms.client.get("/sandbox/tokens").json()["tokens"]] == [
        "req_after"
    ]


def test_unknown_path_answers_the_json_error_shape(client):
    response = client.get("/issuer/v9/nothing")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
