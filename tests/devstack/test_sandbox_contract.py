"""The sandbox contract helpers against a real sandbox process: the stdlib control client,
test PANs the sandbox accepts, and `wait_until`, each the one copy the tree uses."""

from __future__ import annotations

import random
import sys

import pytest
from django.conf import settings

import bench.common
import bench.faults
import bench.loadgen
import bench.phase
import devstack
import tests.live
from devstack import DeadlinePassed, Process, SandboxClient, SandboxError, luhn_pan, wait_until
from devstack.layout import free_port
from devstack.processes import answers_200
from devstack.sandbox import luhn_valid
from devstack.stack import sandbox_command


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process("sandbox", sandbox_command(sys.executable, "127.0.0.1", port),
                      tmp_path_factory.mktemp("sandbox") / "sandbox.log",
                      env={"DEV_KEYS_FILE": settings.DEV_KEYS_FILE, "PATH": "/usr/bin:/bin"},
                      ready=answers_200(f"{url}/sandbox/health"))
    process.start(append=False)
    try:
        process.wait_ready(timeout=30)
        yield SandboxClient(url)
    finally:
        process.stop(grace=5)


def test_a_card_added_with_a_test_pan_is_listed_for_its_customer(sandbox):
    card_id = sandbox.add_card(customer_id="cust_contract", pan=luhn_pan("1111"),
                               expiry="12/30", status="active", msisdn="+254700000010",
                               cardholder_name="CONTRACT TEST", kyc_tier="tier_2")
    cards = sandbox.cards("cust_contract")
    assert [card["card_id"] for card in cards] == [card_id]
    assert cards[0]["last4"] == "1111"


def test_faults_are_set_read_back_and_cleared(sandbox):
    sandbox.set_fault("token_service", error_rate=0.3, timeout_rate=0.05)
    assert sandbox.faults()["token_service"]["error_rate"] == 0.3
    assert sandbox.clear_faults() == {} == sandbox.faults()


def test_a_request_the_sandbox_refuses_is_a_sandbox_error(sandbox):
    with pytest.raises(SandboxError, match="400"):
        sandbox.set_fault("no_such_system", error_rate=1.0)


def test_reset_clears_faults_and_counters_and_keeps_the_cards(sandbox):
    sandbox.add_card(customer_id="cust_reset", pan=luhn_pan("0002"), expiry="12/30",
                     status="active", msisdn="+254700000020", cardholder_name="RESET",
                     kyc_tier="tier_2")
    sandbox.set_fault("sms", error_rate=1.0)
    sandbox.reset()
    assert sandbox.faults() == {}
    assert sandbox.messages() == []
    assert sandbox.stats()["idempotency"]["keys"] == 0
    assert len(sandbox.cards("cust_reset")) == 1


def test_luhn_pan_is_sixteen_luhn_valid_digits_ending_in_last4():
    for last4 in ("1111", "0002", "0044", "4242"):
        pan = luhn_pan(last4)
        assert len(pan) == 16 and pan.startswith("4") and pan.endswith(last4)
        assert luhn_valid(pan)
        assert not luhn_valid(pan[:-5] + str((int(pan[-5]) + 1) % 10) + last4)


def test_luhn_pan_from_a_seeded_generator_is_reproducible():
    assert luhn_pan("0010", rng=random.Random(7)) == luhn_pan("0010", rng=random.Random(7))
    assert luhn_pan("0010", prefix="51", length=16).startswith("51")


def test_wait_until_returns_the_first_truthy_value():
    answers = iter([None, 0, "", {"state": "provisioned"}])
    assert wait_until(lambda: next(answers), timeout=5, interval=0) == {"state": "provisioned"}


def test_wait_until_gives_up_at_the_deadline_as_an_assertion_and_a_timeout():
    with pytest.raises(DeadlinePassed, match="the token to be active") as raised:
        wait_until(lambda: False, timeout=0.2, interval=0.01, message="the token to be active")
    assert isinstance(raised.value, AssertionError) and isinstance(raised.value, TimeoutError)


def test_the_tests_and_the_bench_use_the_one_copy_of_each_helper():
    assert tests.live.wait_until is devstack.wait_until
    assert tests.live.luhn_pan is devstack.luhn_pan
    assert bench.phase.wait_until is bench.faults.wait_until is devstack.wait_until
    assert bench.loadgen.luhn_pan is devstack.luhn_pan
    assert not hasattr(bench.common, "wait_until")
