"""Admin of reconciliation: support sees runs and mismatches (masked) and cannot resolve;
operations resolve with a note; a transfer's page links to its mismatches."""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from transfers.models import MismatchKind, ReconciliationMismatch, ReconciliationRun, State

from .factories import GREEN_PAN, TransferFactory

pytestmark = pytest.mark.django_db


def _staff(client, django_user_model, group):
    user = django_user_model.objects.create_user(f"{group}_user", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


@pytest.fixture
def mismatch():
    transfer = TransferFactory(state=State.COMPLETED, due_at=None)
    run = ReconciliationRun.objects.create(report_date=timezone.now().date(),
                                           status=ReconciliationRun.Status.SUCCEEDED)
    return ReconciliationMismatch.objects.create(
        report_date=run.report_date, kind=MismatchKind.AMOUNT_MISMATCH,
        reference=str(transfer.pk), transfer=transfer, detail="the report says 1 KES",
        report_line={"line": 3, "fields": {"client_reference_code": str(transfer.pk),
                                           "amount": "0.01"}},
        ours={"amount": transfer.amount}, first_run=run, last_run=run)


def test_support_sees_runs_and_mismatches_but_cannot_resolve(client, django_user_model,
                                                              mismatch):
    _staff(client, django_user_model, "support")
    pages = [client.get("/admin/transfers/reconciliationrun/"),
             client.get("/admin/transfers/reconciliationmismatch/"),
             client.get(f"/admin/transfers/reconciliationmismatch/{mismatch.pk}/change/")]
    assert [page.status_code for page in pages] == [200, 200, 200]
    page = pages[2].content.decode()
    assert "the report says 1 KES" in page and "0.01" in page
    assert GREEN_PAN not in page and 'data-action="resolve"' not in page
    client.post(f"/admin/transfers/reconciliationmismatch/{mismatch.pk}/resolve/",
                {"note": "looked"})
    mismatch.refresh_from_db()
    assert mismatch.state == ReconciliationMismatch.State.OPEN


def test_operations_resolve_a_mismatch_only_with_a_note(client, django_user_model, mismatch):
    _staff(client, django_user_model, "operations")
    url = f"/admin/transfers/reconciliationmismatch/{mismatch.pk}/"
    assert 'data-action="resolve"' in client.get(url + "change/").content.decode()
    client.post(url + "resolve/", {"note": ""})
    mismatch.refresh_from_db()
    assert mismatch.state == ReconciliationMismatch.State.OPEN
    client.post(url + "resolve/", {"note": "refund agreed with the network"})
    mismatch.refresh_from_db()
    assert (mismatch.state, mismatch.resolved_by, mismatch.resolution_note) == (
        "resolved", "operations_user", "refund agreed with the network")
    assert "refund agreed with the network" in client.get(url + "change/").content.decode()


def test_the_transfer_page_links_to_its_mismatches(client, django_user_model, mismatch):
    _staff(client, django_user_model, "support")
    page = client.get(f"/admin/transfers/transfer/{mismatch.transfer_id}/change/")
    assert f"/admin/transfers/reconciliationmismatch/?q={mismatch.transfer_id}" \
        in page.content.decode()
    listed = client.get(f"/admin/transfers/reconciliationmismatch/?q={mismatch.transfer_id}")
    assert listed.status_code == 200 and "amount_mismatch" in listed.content.decode()
