"""Admin for decisioning rules: operations edit (an edit that weakens a rule waits for a
second operations user; any other edit is a new version at once), support reads; each rule
shows how often it fired in the last 24 hours, shadow rules included, and every change it
had. Rule changes: the full history, and the pending ones operations approve or reject."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.errors import ApplicationError
from core.admin_site import ReadOnlyAdmin, ServiceModelAdmin

from . import services
from .models import ChangeStatus, DecisionRule, DecisionRuleVersion, RuleChange, RuleResult
from .weakening import describe_changes

STATUS_COLOURS = {ChangeStatus.PENDING: "#b26b00", ChangeStatus.APPLIED: "#2e7d32",
                  ChangeStatus.APPROVED: "#2e7d32", ChangeStatus.REJECTED: "#6d6d6d"}


class DecisionRuleForm(forms.ModelForm):
    class Meta:
        model = DecisionRule
        fields = ["key", "kind", "description", "enabled", "mode", "params"]

    def clean_params(self):
        params = self.cleaned_data["params"]
        if not isinstance(params, dict):
            raise forms.ValidationError("Params must be a JSON object.")
        return params


class DecisionRuleVersionInline(admin.TabularInline):
    model = DecisionRuleVersion
    extra = 0
    can_delete = False
    readonly_fields = ["version", "enabled", "mode", "params", "changed_by", "approved_by",
                       "changed_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def status_badge(status: str):
    return format_html('<span class="change-status" data-status="{}" style="display:inline-block;'
                       'padding:1px 8px;border-radius:10px;color:#fff;background:{};'
                       'font-weight:600">{}</span>',
                       status, STATUS_COLOURS.get(status, "#6d6d6d"), status)


def change_lines(change: RuleChange):
    lines = describe_changes(change.before, change.after) or ["(no field changed)"]
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


@admin.register(DecisionRule)
class DecisionRuleAdmin(ServiceModelAdmin):
    form = DecisionRuleForm
    list_display = ["key", "kind", "mode", "enabled", "version", "fired_24h", "pending_changes",
                    "updated_by", "updated_at"]
    list_filter = ["mode", "enabled", "kind"]
    readonly_fields = ["version", "updated_by", "updated_at", "change_history"]
    inlines = [DecisionRuleVersionInline]

    def get_queryset(self, request):
        self._firing = services.firing_counts(timezone.now() - timedelta(hours=24))
        return super().get_queryset(request).annotate(
            pending=Count("changes", filter=Q(changes__status=ChangeStatus.PENDING)))

    @admin.display(description="fired in 24 h (yellow / red)")
    def fired_24h(self, obj):
        counts = getattr(self, "_firing", {}).get(obj.key, {})
        return f"{counts.get('yellow', 0)} / {counts.get('red', 0)}"

    @admin.display(description="changes awaiting approval")
    def pending_changes(self, obj):
        count = getattr(obj, "pending", 0)
        if not count:
            return "—"
        url = reverse("admin:decisioning_rulechange_changelist")
        return format_html('<a href="{}?status__exact=pending&amp;q={}">{}</a>', url, obj.key,
                           count)

    @admin.display(description="every change (before → after)")
    def change_history(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rows = [(change.proposed_at.strftime("%Y-%m-%d %H:%M"), status_badge(change.status),
                 change_lines(change), change.proposed_by, change.decided_by or "—")
                for change in obj.changes.order_by("-proposed_at", "-id")]
        if not rows:
            return "—"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                    "<td>{}</td></tr>", rows)
        return format_html('<table id="rule-changes"><thead><tr><th>when</th><th>status</th>'
                           "<th>change</th><th>by</th><th>decided by</th></tr></thead>"
                           "<tbody>{}</tbody></table>", body)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("decisioning.edit_decisionrule")

    def has_add_permission(self, request):
        return request.user.has_perm("decisioning.edit_decisionrule")

    def has_delete_permission(self, request, obj=None):
        return False  # disable instead: the history of results refers to the rule key

    def save_model(self, request, obj, form, change):
        # Held on the object (this admin instance is shared by every request) for the
        # response: a weakening edit was not applied and must not say it was.
        obj.rule_change = services.save_rule(obj, user=request.user)

    def log_change(self, request, obj, message):
        held = getattr(obj, "rule_change", None)
        if held is not None and held.status == ChangeStatus.PENDING:
            message = (f"Proposed a change that weakens the rule; held for approval as "
                       f"rule change {held.pk}, not applied.")
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        held = getattr(obj, "rule_change", None)
        if held is None or held.status != ChangeStatus.PENDING:
            return super().response_change(request, obj)
        self.message_user(
            request,
            f"Not applied: this change weakens {obj.key} ({'; '.join(held.weakening)}). It "
            "waits for a second operations user to approve it under Rule changes; the rule "
            "stays as it was meanwhile.",
            messages.WARNING)
        return HttpResponseRedirect(
            reverse("admin:decisioning_rulechange_change", args=[held.pk]))


@admin.register(RuleChange)
class RuleChangeAdmin(ReadOnlyAdmin):
    list_display = ["proposed_at", "rule_key", "status_coloured", "changes", "weakens",
                    "proposed_by", "decided_by", "decided_at", "applied_version"]
    list_filter = ["status"]
    search_fields = ["=rule__key", "=proposed_by", "=decided_by"]
    search_help_text = "Rule key, proposer or decider (exact)."
    date_hierarchy = "proposed_at"
    list_select_related = ["rule"]
    fields = ["rule", "status_coloured", "base_version", "changes", "weakens", "before",
              "after", "proposed_by", "proposed_at", "decided_by", "decided_at",
              "applied_version"]
    readonly_fields = fields
    actions = ["approve_changes", "reject_changes"]

    @admin.display(description="rule", ordering="rule__key")
    def rule_key(self, obj):
        return obj.rule.key

    @admin.display(description="status", ordering="status")
    def status_coloured(self, obj):
        return status_badge(obj.status)

    @admin.display(description="change (before → after)")
    def changes(self, obj):
        return change_lines(obj)

    @admin.display(description="why it weakens the rule")
    def weakens(self, obj):
        if not obj.weakening:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in obj.weakening))

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm(services.APPROVE_PERMISSION)

    @admin.action(description="Approve the selected pending changes (applies them)",
                  permissions=["approve"])
    def approve_changes(self, request, queryset):
        self._decide(request, queryset, services.approve_rule_change, "approved and applied")

    @admin.action(description="Reject the selected pending changes", permissions=["approve"])
    def reject_changes(self, request, queryset):
        self._decide(request, queryset, services.reject_rule_change, "rejected")

    def _decide(self, request, queryset, decide, done: str) -> None:
        decided = 0
        for change in queryset.select_related("rule").order_by("proposed_at", "id"):
            try:
                decide(change.pk, user=request.user)
            except services.FourEyesRequired:
                self.message_user(request, f"{change.rule.key}: you proposed this change; "
                                           "another operations user must approve it.",
                                  messages.ERROR)
            except ApplicationError as exc:
                self.message_user(request, f"{change.rule.key}: {exc.message}", messages.ERROR)
            else:
                decided += 1
        if decided:
            self.message_user(request, f"{decided} change(s) {done}.", messages.SUCCESS)


@admin.register(RuleResult)
class RuleResultAdmin(ReadOnlyAdmin):
    list_display = ["request", "rule_key", "rule_version", "mode", "outcome", "reason_code",
                    "created_at"]
    list_filter = ["outcome", "mode", "rule_key"]
    search_fields = ["=request__id"]
    readonly_fields = [f.name for f in RuleResult._meta.fields]
