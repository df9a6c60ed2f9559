"""The API answers as its OpenAPI schema says: `schemathesis run --checks all` against the
live stack (the live server, a real worker, the sandbox) finds nothing.

Schemathesis reads /api/schema/ from the live server and runs its examples, coverage,
fuzzing and stateful phases (links: core/openapi.py) with every check: no 5xx, only
documented statuses, bodies and headers matching the schema, invalid input refused,
valid input accepted, 401 without a token, 405 for other methods. Real objects (a
provisioned request and its token, a request waiting for its one-time code) are offered
beside generated ids, so the checks reach past 404 into state conflicts and wrong codes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import requests

from core.auth import mint_dev_token
from devstack import wait_until
from provisioning.models import MOVING_STATES, ProvisioningRequest
from tests.live import ARTIFACTS

pytestmark = pytest.mark.integration

CUSTOMER = "cust_demo"  # the sandbox's seeded cards are this customer's

# Where a valid body still meets a refusal the schema cannot predict, the refusal is
# added to what positive_data_acceptance expects, for that operation only:
# - lists: `cursor` is opaque; only one the API handed out is valid (else 400
#   invalid_cursor), and no schema can say which strings those are;
# - create: an Idempotency-Key reused with another body is 422 idempotency_key_reused
#   (the stateful phase replays keys);
# - verify: a well-formed one-time code can be the wrong one (422 otp_invalid);
# - payees: a card number must pass the Luhn check (400 invalid_pan), a name must carry no
#   control or format character (400 invalid_name), and only the network knows whether a
#   card can receive (422 card_cannot_receive);
# - quotes and transfers: limits depend on the customer's tier and day (422
#   limit_exceeded), a quote's payee may be gone (409 payee_deleted), a quote may have
#   expired or been used (409), and a key may be reused with another body (422).
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "404", "409", "429"]

[dictionaries.provisioned_request]
values = ["{provisioned}"]

[dictionaries.step_up_request]
values = ["{step_up}"]

[dictionaries.token]
values = ["{token}"]

[[operations]]
include-name-regex = "^GET /api/v1/(provisioning-requests|tokens)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "409", "429"]

[[operations]]
include-name = "POST /api/v1/provisioning-requests"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "409", "422", "429"]

[[operations]]
include-name-regex = "^POST /api/v1/(payees|transfer-quotes|transfers)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "409", "422", "429"]

[[operations]]
include-name-regex = "^GET /api/v1/(payees|transfers)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "409", "429"]

[[operations]]
include-path-regex = "^/api/v1/provisioning-requests/[{{]request_id[}}](/cancel)?$"
parameters = {{ request_id = {{ dictionary = "provisioned_request", probability = 0.5 }} }}

[[operations]]
include-path-regex = "^/api/v1/provisioning-requests/[{{]request_id[}}]/(verify|resend-otp)$"
parameters = {{ request_id = {{ dictionary = "step_up_request", probability = 0.5 }} }}
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "409", "422", "429"]

[[operations]]
include-path-regex = "^/api/v1/tokens/"
parameters = {{ token_id = {{ dictionary = "token", probability = 0.5 }} }}
"""


@pytest.fixture
def unthrottled(settings):
    """The run sends hundreds of requests a minute as one customer: the limits (tested in
    tests/security/test_throttling.py) would answer most of them 429."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "customer": "100000/min", "client_ip": "100000/min"}}


def test_schemathesis_finds_no_failure_with_all_checks(stack, unthrottled, tmp_path):
    provisioned = stack.create("card_green", customer_id=CUSTOMER)
    step_up = stack.create("card_stepup", customer_id=CUSTOMER)
    stack.wait_for_state(provisioned["id"], "provisioned")
    stack.wait_for_state(step_up["id"], "step_up_required")
    token = stack.read(provisioned["id"], customer_id=CUSTOMER)["token"]["id"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(provisioned=provisioned["id"], step_up=step_up["id"],
                                    token=token))
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        f"{stack.api}/api/schema/?format=json",
        "--checks", "all",
        "-H", f"Authorization: Bearer {mint_dev_token(CUSTOMER)}",
        # One worker: Python 3.11's ast.parse (Hypothesis describes its filters with it) is
        # not safe across threads.
        "--max-examples", "10", "--generation-deterministic", "--workers", "1",
        "--request-timeout", "10", "--no-color",
        "--report", "junit", "--report-dir", str(ARTIFACTS / "schemathesis"),
    ]
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - started
    output = run.stdout + run.stderr
    (ARTIFACTS / "schemathesis.log").write_text(output)
    generated = re.search(r"(\d+) generated", output)
    print(f"schemathesis: {generated and generated.group(0)} in {seconds:.0f} s")
    # What the run created is still moving through the worker: the test ends when it has
    # stopped, so no task of this test's requests runs into the next test's database.
    wait_until(lambda: not ProvisioningRequest.objects.filter(
        customer_id=CUSTOMER, state__in=MOVING_STATES).exists(), timeout=90,
        message="requests schemathesis created still moving")
    assert run.returncode == 0, output[-6000:]
    operations = sum(len(item) for item in requests.get(
        f"{stack.api}/api/schema/?format=json", timeout=10).json()["paths"].values())
    assert f"Tested: {operations}" in output, output[-3000:]
    assert generated and int(generated.group(1)) > 200, output[-3000:]
