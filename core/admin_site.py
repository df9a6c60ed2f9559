"""The admin site support and operations use, the base every admin of the service derives
from, the state badge and the masking every admin page shares, and the overview page
whose panels each app registers (requests per state, stuck requests, recent outcomes,
the state diagrams).

This module is named in INSTALLED_APPS (ServiceAdminConfig), so it is imported while
Django loads its apps: models are imported inside the functions, never at the top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.filters import FieldListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.core import checks
from django.core.exceptions import PermissionDenied
from django.db.models import Field
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.safestring import mark_safe


class ServiceModelAdmin(admin.ModelAdmin):
    """Base of every admin in the service apps: a list is filtered only by what its page
    offers.

    Django lets a changelist URL filter by any lookup on the model's own fields
    (`?customer_msisdn__startswith=2547`), whether or not the page offers it, so a user
    who may only look could read a masked phone number or push token by guessing it one
    prefix at a time. Here a lookup is allowed only if one of the page's list filters or
    its date hierarchy reads that very parameter; the search box (`q`) is the admin's
    `search_fields`, exact matches only. Anything else is refused with Django's
    DisallowedModelAdminLookup (a SuspiciousOperation: 400, logged by
    `django.security.DisallowedModelAdminLookup`).
    """

    def lookup_allowed(self, lookup, value, request):
        return (lookup in offered_lookups(self, request)
                and super().lookup_allowed(lookup, value, request))


class ReadOnlyAdmin(ServiceModelAdmin):
    """Looking only: rows change through services, never through admin forms."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def offered_lookups(model_admin: admin.ModelAdmin, request) -> set[str]:
    """The query parameters this admin's own list filters and date hierarchy read.

    Each filter is built as the changelist builds it (with no parameters) and asked for
    its `expected_parameters()`, so a filter class's own parameters (`state__exact`,
    `created_at__gte`, a SimpleListFilter's `parameter_name`) are exactly what is allowed.
    """
    model = model_admin.model
    offered: set[str] = set()
    for item in model_admin.get_list_filter(request):
        if callable(item):  # a ListFilter class (SimpleListFilter and the like)
            spec = item(request, {}, model, model_admin)
        else:
            field, filter_class = (item if isinstance(item, (tuple, list))
                                   else (item, FieldListFilter.create))
            field_path = None
            if not isinstance(field, Field):
                field_path = field
                field = get_fields_from_path(model, field_path)[-1]
            spec = filter_class(field, request, {}, model, model_admin, field_path=field_path)
        offered.update(spec.expected_parameters())
    if model_admin.date_hierarchy:
        offered.update(f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day"))
    return offered


class ServiceAdminSite(admin.AdminSite):
    site_header = "Push provisioning"
    site_title = "Push provisioning admin"
    index_title = "Support and operations"
    index_template = "admin/service_index.html"

    def check(self, app_configs):
        """Every admin of a service app derives from ServiceModelAdmin and searches by
        exact match only, so none can be added that lets a URL, or a `contains` search,
        guess a value the page masks."""
        from core.security import SERVICE_APPS

        errors = super().check(app_configs)
        for model, model_admin in self._registry.items():
            if model._meta.app_label not in SERVICE_APPS:
                continue
            name = f"{type(model_admin).__qualname__} for {model._meta.label}"
            if not isinstance(model_admin, ServiceModelAdmin):
                errors.append(checks.Error(
                    f"{name} does not derive from core.admin_site.ServiceModelAdmin.",
                    hint="Derive it from ServiceModelAdmin (or ReadOnlyAdmin), which refuses "
                         "URL lookups the page does not offer.",
                    obj=type(model_admin), id="core.E001"))
            loose = [field for field in model_admin.search_fields if not field.startswith("=")]
            if loose:
                errors.append(checks.Error(
                    f"{name} searches {', '.join(loose)} by more than an exact match.",
                    hint="Prefix each search field with '=' (exact).",
                    obj=type(model_admin), id="core.E002"))
        return errors

    def index(self, request, extra_context=None):
        show = any(request.user.has_perm(name) for name in overview_permissions())
        return super().index(request, {**(extra_context or {}), "show_overview": show})

    def get_urls(self):
        return [
            path("overview/", self.admin_view(self.overview_view), name="overview"),
            *super().get_urls(),
        ]

    def overview_view(self, request):
        panels = [panel for panel in _OVERVIEW_PANELS if request.user.has_perm(panel.permission)]
        if not panels:
            raise PermissionDenied
        context = {**self.each_context(request), "title": "Overview",
                   "panels": [{"template": panel.template, **panel.context()}
                              for panel in panels]}
        from .diagram import diagrams

        # Drawn by our own code from the FSM declarations (no user input): safe to inline.
        context["diagrams"] = [mark_safe(svg) for svg in diagrams().values()]
        request.current_app = self.name
        return TemplateResponse(request, "admin/overview.html", context)


@dataclass(frozen=True)
class OverviewPanel:
    """One app's part of the overview page: its template, shown to holders of
    `permission`, rendered with what `context()` returns."""

    template: str
    permission: str
    context: Callable[[], dict]


_OVERVIEW_PANELS: list[OverviewPanel] = []


def register_overview_panel(panel: OverviewPanel) -> None:
    if panel not in _OVERVIEW_PANELS:
        _OVERVIEW_PANELS.append(panel)


def overview_permissions() -> list[str]:
    """Who may open the overview: a holder of any panel's permission (the home page asks)."""
    return [panel.permission for panel in _OVERVIEW_PANELS]


class ServiceAdminConfig(AdminConfig):
    default_site = "core.admin_site.ServiceAdminSite"


def state_badge(state: str):
    """A state as a coloured badge, in the colours of the state diagrams."""
    from .diagram import DEFAULT_COLOUR, STATE_COLOURS

    colour = STATE_COLOURS.get(state, DEFAULT_COLOUR)
    return format_html(
        '<span class="state-badge" data-state="{}" style="display:inline-block;padding:1px 8px;'
        'border-radius:10px;color:#fff;background:{};font-weight:600">{}</span>',
        state, colour, state)


def mask_msisdn(msisdn: str) -> str:
    """+254712340100 → +2547****0100: enough to match what a customer reads out."""
    if not msisdn:
        return ""
    if len(msisdn) <= 8:
        return "****"
    return f"{msisdn[:5]}****{msisdn[-4:]}"
