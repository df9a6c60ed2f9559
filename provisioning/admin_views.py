"""The admin site support and operations use, and its overview page: requests per state,
stuck requests per state, outcomes in the last hour, and the state diagrams.

This module is named in INSTALLED_APPS (ServiceAdminConfig), so it is imported while
Django loads its apps: models are imported inside the functions, never at the top.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.safestring import mark_safe


class ServiceAdminSite(admin.AdminSite):
    site_header = "Push provisioning"
    site_title = "Push provisioning admin"
    index_title = "Support and operations"
    index_template = "admin/service_index.html"

    def get_urls(self):
        return [
            path("overview/", self.admin_view(self.overview_view), name="overview"),
            *super().get_urls(),
        ]

    def overview_view(self, request):
        if not request.user.has_perm("provisioning.view_provisioningrequest"):
            raise PermissionDenied
        context = {**self.each_context(request), "title": "Overview", **overview_numbers()}
        from .diagram import DIAGRAMS

        # Drawn by our own code from the FSM declarations (no user input): safe to inline.
        context["diagrams"] = [mark_safe(draw()) for draw in DIAGRAMS.values()]
        request.current_app = self.name
        return TemplateResponse(request, "admin/provisioning/overview.html", context)


class ServiceAdminConfig(AdminConfig):
    default_site = "provisioning.admin_views.ServiceAdminSite"


def overview_numbers(now=None) -> dict:
    """The overview's figures; each is one grouped query on an indexed column."""
    from django.db.models import Count

    from .models import MOVING_STATES, ProvisioningRequest, State, TERMINAL_STATES

    now = now or timezone.now()
    window = timedelta(minutes=settings.ADMIN_OVERVIEW_WINDOW_MINUTES)
    requests = ProvisioningRequest.objects.order_by()
    per_state = dict(requests.values_list("state").annotate(n=Count("pk")))
    # "Stuck": a request in a state that should be moving whose due time has passed.
    watched = [*MOVING_STATES, State.STEP_UP_REQUIRED]
    stuck = dict(requests.filter(state__in=watched, due_at__isnull=False, due_at__lt=now)
                 .values_list("state").annotate(n=Count("pk")))
    # Outcomes: requests that reached an end (or failed) within the window, by state and
    # failure code; (state, state_changed_at) is indexed.
    ended = [*TERMINAL_STATES, State.FAILED]
    outcomes = (requests.filter(state__in=ended, state_changed_at__gte=now - window)
                .values_list("state", "failure_code").annotate(n=Count("pk"))
                .order_by("state", "-n"))
    return {
        "window_minutes": settings.ADMIN_OVERVIEW_WINDOW_MINUTES,
        "states": [{"state": state, "count": per_state.get(state, 0),
                    "stuck": stuck.get(state, 0) if state in watched else None}
                   for state in State.values],
        "total": sum(per_state.values()),
        "total_stuck": sum(stuck.values()),
        "outcomes": [{"state": state, "failure_code": code, "count": n}
                     for state, code, n in outcomes],
    }
