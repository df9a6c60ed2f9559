"""Property test over the provisioning FSM: any sequence of attempted transitions keeps
terminal states absorbing, and replaying the transition log gives the current state."""

import pytest
from django.db import transaction
from django_fsm import TransitionNotAllowed
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from core.models import TransitionLog, Trigger

from provisioning.models import TERMINAL_STATES, ProvisioningRequest, State

TRANSITIONS = ["mark_eligible", "mark_ineligible", "mark_token_requested", "require_step_up",
               "mark_provisioned", "decline", "expire", "cancel", "fail", "retry"]


class ProvisioningMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.request = ProvisioningRequest.objects.create(
            customer_id="cust_prop", card_id="card_x", wallet="google_pay", device_id="d1",
            device_type="phone", device_os="android",
        )
        self.terminal_reached = None

    @rule(name=st.sampled_from(TRANSITIONS))
    def attempt(self, name):
        before = self.request.state
        kwargs = {"by": Trigger.WORKER}
        if name == "fail":
            kwargs["reason"] = "prop_failure"
        try:
            with transaction.atomic():
                getattr(self.request, name)(**kwargs)
                self.request.save()
        except TransitionNotAllowed:
            assert self.request.state == before
            return
        assert before not in TERMINAL_STATES, f"{name} left terminal state {before}"
        if self.request.state in TERMINAL_STATES:
            self.terminal_reached = self.request.state

    @invariant()
    def terminal_states_absorb(self):
        if self.terminal_reached is not None:
            assert self.request.state == self.terminal_reached

    @invariant()
    def replaying_the_log_gives_the_current_state(self):
        state = State.RECEIVED
        for row in TransitionLog.objects.filter(object_id=self.request.pk).order_by("id"):
            assert row.from_state == state, "log rows must chain"
            state = row.to_state
        stored = ProvisioningRequest.objects.get(pk=self.request.pk)
        assert stored.state == state == self.request.state


@pytest.mark.django_db
def test_provisioning_fsm_properties_hold_for_any_sequence():
    run_state_machine_as_test(
        ProvisioningMachine,
        settings=hsettings(max_examples=60, stateful_step_count=15, deadline=None),
    )
