"""Admin of reconciliation: runs per report day, and the mismatches they found (support
looks; operations mark one resolved with a note, which lands on the row and in the
transition log). Only what the report and our rows say, masked: a transfer is linked, a
report line is shown as stored (card numbers masked before it was stored)."""

from __future__ import annotations

import json
import logging

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_site import ReadOnlyAdmin
from core.errors import ApplicationError
from core.models import TransitionLog

from . import reconciliation
from .models import ReconciliationMismatch, ReconciliationRun

logger = logging.getLogger(__name__)
RESOLVE_PERMISSION = "transfers.resolve_reconciliationmismatch"


def mismatches_url(transfer_id) -> str:
    return reverse("admin:transfers_reconciliationmismatch_changelist") + f"?q={transfer_id}"


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("report_date", "status", "trigger", "report_lines", "transfers_checked",
                    "mismatches_found", "mismatches_new", "mismatches_cleared", "error_code",
                    "started_at", "finished_at")
    list_filter = ("status", ("report_date", admin.DateFieldListFilter))
    show_full_result_count = False
    fields = list_display + ("error_message",)
    readonly_fields = fields


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(ReadOnlyAdmin):
    change_form_template = "admin/transfers/reconciliationmismatch/change_form.html"
    list_display = ("report_date", "kind", "state", "transfer_link", "detail", "times_found",
                    "resolved_by", "updated_at")
    list_filter = ("state", "kind", ("report_date", admin.DateFieldListFilter))
    search_fields = ("=reference",)
    search_help_text = "Transfer id (exact), or request:<the network's request id>."
    show_full_result_count = False
    fields = ("id", "report_date", "kind", "state", "transfer_link", "reference", "detail",
              "report_line_shown", "ours_shown", "times_found", "first_run", "last_run",
              "resolved_by", "resolution_note", "resolved_at", "created_at", "updated_at")
    readonly_fields = fields

    @admin.display(description="transfer")
    def transfer_link(self, obj):
        if obj.transfer_id is None:
            return "—"
        url = reverse("admin:transfers_transfer_change", args=[obj.transfer_id])
        return format_html('<a href="{}">{}</a>', url, obj.transfer_id)

    @admin.display(description="report line")
    def report_line_shown(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.report_line, indent=1,
                                                         sort_keys=True)) if obj.report_line else "—"

    @admin.display(description="ours")
    def ours_shown(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.ours, indent=1,
                                                         sort_keys=True)) if obj.ours else "—"

    def get_urls(self):
        return [path("<uuid:object_id>/resolve/", self.admin_site.admin_view(self.resolve_view),
                     name="transfers_reconciliationmismatch_resolve"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["can_resolve"] = (obj.state == ReconciliationMismatch.State.OPEN
                                            and request.user.has_perm(RESOLVE_PERMISSION))
            extra_context["transitions"] = list(TransitionLog.objects.filter(
                machine=ReconciliationMismatch.TRANSITION_LOG_MACHINE,
                object_id=obj.pk).order_by("id"))
        return super().change_view(request, object_id, form_url, extra_context)

    def resolve_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = get_object_or_404(ReconciliationMismatch, pk=object_id)
        change_url = reverse("admin:transfers_reconciliationmismatch_change", args=[obj.pk])
        if not request.user.has_perm(RESOLVE_PERMISSION):
            self.message_user(request, "You may not resolve mismatches.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            reconciliation.resolve_mismatch(obj.pk, actor=request.user,
                                            note=request.POST.get("note", ""))
        except ApplicationError as exc:
            self.message_user(request, f"Not resolved: {exc}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        self.message_user(request, "Marked resolved.", messages.SUCCESS)
        return HttpResponseRedirect(change_url)
