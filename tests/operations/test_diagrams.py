"""The state diagrams are drawn from the FSM declarations, and the copies committed in
docs/state-diagrams/ are what the code draws today."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from django.core.management import CommandError, call_command

from core.diagram import diagrams, machine_of, render_svg
from provisioning.models import ProvisioningRequest
from tokens.models import Token


def test_committed_state_diagrams_are_up_to_date_with_the_fsm():
    # If this fails: `manage.py draw_state_diagrams` and commit docs/state-diagrams/.
    call_command("draw_state_diagrams", "--check")


def test_check_fails_when_a_committed_diagram_differs(tmp_path):
    for name in diagrams():
        (tmp_path / name).write_text("<svg/>")
    with pytest.raises(CommandError, match="out of date"):
        call_command("draw_state_diagrams", "--check", "--out", str(tmp_path))


@pytest.mark.parametrize("model", [ProvisioningRequest, Token])
def test_every_declared_transition_is_an_edge_of_the_drawing(model):
    svg = render_svg(machine_of(model))
    field = model._meta.get_field("state")
    for transition in field.get_all_transitions(model):
        assert f"<title>{transition.name}: {transition.source} → {transition.target}</title>" in svg


@pytest.mark.parametrize("model", [ProvisioningRequest, Token])
def test_every_state_is_a_box_of_the_drawing(model):
    svg = ElementTree.fromstring(render_svg(machine_of(model)))
    boxes = {g.get("id") for g in svg.iter("{http://www.w3.org/2000/svg}g")}
    assert boxes == {f"state-{value}" for value, _ in model._meta.get_field("state").choices}


def test_transitions_that_need_a_permission_are_drawn_dashed():
    svg = render_svg(machine_of(ProvisioningRequest))
    retry = next(line for line in svg.splitlines() if "<title>retry: failed → received" in line)
    fail = next(line for line in svg.splitlines() if "<title>fail: received → failed" in line)
    assert "stroke-dasharray" in retry
    assert "stroke-dasharray" not in fail


def test_drawing_is_deterministic():
    first = render_svg(machine_of(ProvisioningRequest))
    assert render_svg(machine_of(ProvisioningRequest)) == first
