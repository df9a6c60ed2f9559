"""Request-level security shared by the API and admin: the client address behind trusted
proxies, the request body limit, admin login lockout, and the admin groups.

Settings live in config/settings/security.py; docs/security.md maps each piece to
the PCI DSS requirement it serves.
"""

from __future__ import annotations

import logging

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


# --- client address -------------------------------------------------------------------

def client_ip(request: HttpRequest) -> str:
    """The caller's address, trusting X-Forwarded-For only as far as our own proxies.

    With TRUSTED_PROXY_COUNT = N, the last N entries of X-Forwarded-For were appended by
    our proxies, so the client is the N-th from the right; anything left of it is what
    the client sent and may be forged. With N = 0 the header is ignored entirely, so a
    caller cannot dodge the per-IP limit or the admin lockout by inventing addresses.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if part.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(hops, len(forwarded))]


# --- request body limit ---------------------------------------------------------------

class RequestBodyLimitMiddleware:
    """Refuses a body larger than REQUEST_MAX_BYTES before anything reads it.

    Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only when `request.body` or form data is
    read, but DRF's parsers stream the body and skip that check; a declared length over
    the limit therefore gets the coded JSON error here (413), never a 500 and never a
    parser holding megabytes in memory.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        # Imported here: core.errors loads DRF, whose settings load the throttles,
        # which import this module.
        from core.errors import error_body

        declared = (request.META.get("CONTENT_LENGTH") or "0").strip()
        # ASCII digits only: int() also takes "٣" or "３", which no HTTP peer means.
        if not (declared.isascii() and declared.isdigit()):
            return JsonResponse(error_body("bad_request", "Content-Length is not a number."),
                                status=400)
        length = int(declared)
        if length > settings.REQUEST_MAX_BYTES:
            logger.warning("request body over the limit refused",
                           extra={"content_length": length, "path": request.path})
            return JsonResponse(
                error_body("payload_too_large", "The request body is too large.",
                           {"max_bytes": settings.REQUEST_MAX_BYTES}),
                status=413,
            )
        return self.get_response(request)


# --- admin login lockout ----------------------------------------------------------------

class AdminLoginRateLimitBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in AUTHENTICATION_BACKENDS.

    Every login over HTTP (the admin form) passes the request and is counted and locked
    out by username and client address, and by username alone (PerParameterLimitHandler).
    A call without a request is not an HTTP login (the test client's `login()`, a shell);
    axes would raise on it, so it is left to the next backend, which is exactly what would
    happen without axes.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class PerParameterLimitHandler(AxesDatabaseHandler):
    """axes' database handler with a failure limit of its own for each lockout parameter
    set (settings.ADMIN_LOGIN_LOCKOUT_LIMITS, in AXES_LOCKOUT_PARAMETERS' order).

    django-axes 8 counts failures separately for each set in AXES_LOCKOUT_PARAMETERS, but
    `get_failures()` returns the largest count and both places that decide a lockout
    (`is_locked()` before a login, `user_login_failed()` after a failure) compare that one
    number with the one AXES_FAILURE_LIMIT. With the sets (username, address) and
    (username) the username's count is always the largest, so a single limit would make
    the per-address limit meaningless. AXES_FAILURE_LIMIT can be a callable, but it is
    asked for one number too and is not told which set it is for.

    So this handler reports how far the set nearest its own limit is from that limit,
    shifted onto AXES_FAILURE_LIMIT:

        get_failures() = AXES_FAILURE_LIMIT + max over sets of (failures - own limit)

    which reaches AXES_FAILURE_LIMIT exactly when some set reaches its own limit. Nothing
    else changes: axes still records every attempt, cools off, resets on success, answers
    429, and its management commands (axes_reset_username, ...) unlock as documented.
    """

    def get_failures(self, request, credentials=None) -> int:
        limits = [limit for _parameters, limit in settings.ADMIN_LOGIN_LOCKOUT_LIMITS]
        counts = [attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
                  for attempts in self.get_user_attempts(request, credentials)]
        headroom = max(count - limit for count, limit in zip(counts, limits, strict=True))
        return max(0, get_failure_limit(request, credentials) + headroom)


# --- admin groups -----------------------------------------------------------------------

SERVICE_APPS = ("core", "provisioning", "tokens", "notifications", "decisioning", "transfers")
# Audit records are evidence: nobody changes them in admin, operations included.
READ_ONLY_MODELS = {("core", "transitionlog"), ("tokens", "webhookevent"),
                    ("provisioning", "idempotencykey"), ("decisioning", "ruleresult"),
                    ("decisioning", "decisionruleversion"), ("decisioning", "rulechange"),
                    ("notifications", "customerprofilechange"),
                    ("transfers", "idempotencykey"), ("transfers", "reconciliationrun"),
                    ("transfers", "reconciliationmismatch")}
OPERATIONS_ACTIONS = (
    ("provisioning", "retry_provisioningrequest"),
    ("provisioning", "cancel_provisioningrequest"),
    ("provisioning", "expire_provisioningrequest"),
    ("tokens", "act_on_token"),
    ("notifications", "resend_notification"),
    ("decisioning", "edit_decisionrule"),
    ("decisioning", "approve_rulechange"),
    ("transfers", "review_transfer"),
    ("transfers", "resolve_transfer"),
    ("transfers", "resolve_reconciliationmismatch"),
)
SUPPORT_GROUP = "support"
OPERATIONS_GROUP = "operations"


def sync_admin_groups(apps, schema_editor=None) -> dict[str, int]:
    """Create or refresh the `support` and `operations` groups (a data migration step).

    `support` may view every model of the service apps (admin shows masked data only) and
    nothing else; `operations` may also change them (audit records excepted) and run the
    custom actions. Permissions of a model that does not exist yet (an app still being
    written) are skipped; running this again after its migration adds them. Returns the
    number of permissions each group holds.
    """
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate (post_migrate); make sure they exist
    # now, from the historical models, so the groups can be given them.
    from django.apps import apps as global_apps

    for app_config in apps.get_app_configs():
        if apps is global_apps:  # outside a migration (a test restoring flushed data)
            create_permissions(app_config, verbosity=0)
            continue
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    view = Permission.objects.filter(content_type__app_label__in=SERVICE_APPS,
                                     codename__startswith="view_")
    change = Permission.objects.filter(content_type__app_label__in=SERVICE_APPS,
                                       codename__startswith="change_")
    for app_label, model in READ_ONLY_MODELS:
        change = change.exclude(content_type__app_label=app_label, content_type__model=model)
    actions = []
    for app_label, codename in OPERATIONS_ACTIONS:
        found = Permission.objects.filter(content_type__app_label=app_label,
                                          codename=codename).first()
        if found is not None:
            actions.append(found)

    support, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    support.permissions.set(list(view))
    operations, _ = Group.objects.get_or_create(name=OPERATIONS_GROUP)
    operations.permissions.set([*view, *change, *actions])
    return {SUPPORT_GROUP: support.permissions.count(),
            OPERATIONS_GROUP: operations.permissions.count()}
