"""Admin for decisioning rules: operations edit (each save a new version), support reads;
each rule shows how often it fired in the last 24 hours, shadow rules included."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.utils import timezone

from provisioning.admin_views import ServiceModelAdmin

from . import services
from .models import DecisionRule, DecisionRuleVersion, RuleResult


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
    readonly_fields = ["version", "enabled", "mode", "params", "changed_by", "changed_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DecisionRule)
class DecisionRuleAdmin(ServiceModelAdmin):
    form = DecisionRuleForm
    list_display = ["key", "kind", "mode", "enabled", "version", "fired_24h", "updated_by",
                    "updated_at"]
    list_filter = ["mode", "enabled", "kind"]
    readonly_fields = ["version", "updated_by", "updated_at"]
    inlines = [DecisionRuleVersionInline]

    def get_queryset(self, request):
        self._firing = services.firing_counts(timezone.now() - timedelta(hours=24))
        return super().get_queryset(request)

    @admin.display(description="fired in 24 h (yellow / red)")
    def fired_24h(self, obj):
        counts = getattr(self, "_firing", {}).get(obj.key, {})
        return f"{counts.get('yellow', 0)} / {counts.get('red', 0)}"

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("decisioning.edit_decisionrule")

    def has_add_permission(self, request):
        return request.user.has_perm("decisioning.edit_decisionrule")

    def has_delete_permission(self, request, obj=None):
        return False  # disable instead: the history of results refers to the rule key

    def save_model(self, request, obj, form, change):
        services.save_rule(obj, user=request.user)


@admin.register(RuleResult)
class RuleResultAdmin(ServiceModelAdmin):
    list_display = ["request", "rule_key", "rule_version", "mode", "outcome", "reason_code",
                    "created_at"]
    list_filter = ["outcome", "mode", "rule_key"]
    search_fields = ["=request__id"]
    readonly_fields = [f.name for f in RuleResult._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
