"""Admin of what core owns: the transition log of every state machine (read only)."""

from __future__ import annotations

import uuid

from django.contrib import admin

from .admin_site import ReadOnlyAdmin
from .models import TransitionLog


@admin.register(TransitionLog)
class TransitionLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "machine", "object_id", "transition", "from_state", "to_state",
                    "trigger", "actor", "reason", "correlation_id")
    list_filter = ("machine", "trigger", "to_state")
    search_fields = ("=correlation_id", "=actor")
    search_help_text = "Object id, correlation id or admin user (exact)."
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        try:
            object_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(object_id=object_id), False
