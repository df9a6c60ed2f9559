"""Two listeners, two sites: what the internal port serves and what the public one does.

In production gunicorn listens twice (config/gunicorn.py): the public port, the only one
the load balancer and the public Service target, and INTERNAL_PORT, reached from inside
the cluster only (Prometheus, an operator's port-forward). /metrics, /api/schema/ and
/api/docs/ are served on the internal listener only; the API, the webhook and admin on
the public one only; /healthz and /readyz on both. ADR 0006 says why this and not an
allow list of client addresses.

A request's listener is the local address of its own connection, the socket gunicorn
hands the app as `environ["gunicorn.socket"]`: the kernel's record of the port the
client connected to. Nothing a client sends can change it. Not the Host header, not
X-Forwarded-*, and not SERVER_PORT either: gunicorn takes that from the listening
socket on TCP, but from the Host header on a unix socket (gunicorn/http/wsgi.py
`create`). A request without that socket (runserver, a test client) or on a unix socket
is public: the split fails closed.

With INTERNAL_PORT 0 (dev and test) there is one listener and it serves everything.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import Resolver404, resolve, set_urlconf

from core import health

PUBLIC_URLCONF = "config.urls_public"
INTERNAL_URLCONF = "config.urls_internal"


def arrived_on_internal_listener(request) -> bool:
    port = settings.INTERNAL_PORT
    connection = request.META.get("gunicorn.socket")
    if not port or connection is None:
        return False
    try:
        local = connection.getsockname()
    except OSError:
        return False
    # (host, port) on IPv4, (host, port, flow, scope) on IPv6, a path on a unix socket.
    return isinstance(local, tuple) and len(local) >= 2 and local[1] == port


class ListenerMiddleware:
    """First in MIDDLEWARE: routes each request to its listener's site."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.INTERNAL_PORT:
            return self.get_response(request)
        if arrived_on_internal_listener(request):
            return serve_internal(request)
        request.urlconf = PUBLIC_URLCONF
        return self.get_response(request)


def serve_internal(request):
    """Answer from the internal site without the public middleware.

    Sessions, CSRF, admin login, throttled customers and the HTTPS redirect belong to the
    public site. The Host check does too: Prometheus names a pod by its address, which is
    in no ALLOWED_HOSTS, and nothing here builds a URL from Host."""
    set_urlconf(INTERNAL_URLCONF)  # reverse() inside these views resolves here
    try:
        match = resolve(request.path_info, urlconf=INTERNAL_URLCONF)
    except Resolver404:
        return health.not_found(request)
    request.resolver_match = match
    response = match.func(request, *match.args, **match.kwargs)
    if callable(getattr(response, "render", None)):
        response = response.render()  # DRF and template responses render lazily
    return response
