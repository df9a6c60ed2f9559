"""Settings for security, read from the environment (each knob has a line in the README table).

Covers: client address behind proxies, API throttling and body limit, admin login
lockout (django-axes). Keys for data at rest are in base.py ("keys for data we hold").
What this topic adds to lists base.py owns (apps, middleware, loggers) is named
`SECURITY_*` here and put in place by base.py.
"""

from datetime import timedelta

from .env import env

# Django's own DEFAULT_LOGGING gives the "django" and "django.server" loggers handlers of
# their own (console when DEBUG, mail_admins, runserver's access lines), which our
# RedactionFilter is not on. Emptying their handlers and letting them propagate sends
# those lines through the root handlers, which are all filtered.
SECURITY_LOGGERS = {
    "django": {"handlers": [], "propagate": True},
    "django.server": {"handlers": [], "propagate": True},
    # sentry-sdk's own diagnostics logger writes to stderr through a handler of its own;
    # give it ours instead (configured first, sentry_sdk then adds none).
    "sentry_sdk.errors": {"handlers": ["console"], "propagate": False},
}

# How many proxies we run in front of the app (each appends to X-Forwarded-For). 0: the
# header is ignored and REMOTE_ADDR is the client. Used by the per-IP throttle and the
# admin lockout alike (core.security.client_ip).
# base.py copies it into REST_FRAMEWORK["NUM_PROXIES"].
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Largest request body anywhere (API, webhook, admin). base.py reads the same variable
# into DATA_UPLOAD_MAX_MEMORY_SIZE for form posts.
REQUEST_MAX_BYTES = env.int("REQUEST_MAX_BYTES", default=64 * 1024)
# Right after the correlation id, before anything (CSRF, DRF) reads the body.
SECURITY_MIDDLEWARE_AFTER_CORRELATION = ["core.security.RequestBodyLimitMiddleware"]

# Admin sessions end after this long without a request (PCI DSS 8.2.8: 15 minutes).
SESSION_COOKIE_AGE = env.int("ADMIN_SESSION_IDLE_SECONDS", default=15 * 60)
SESSION_SAVE_EVERY_REQUEST = True  # each request restarts the idle clock

# --- admin login lockout (django-axes) --------------------------------------------------
SECURITY_APPS_ADDED = ["axes"]
SECURITY_MIDDLEWARE_LAST = ["axes.middleware.AxesMiddleware"]  # after AuthenticationMiddleware
AUTHENTICATION_BACKENDS = [
    "core.security.AdminLoginRateLimitBackend",  # axes' lockout check, must be first
    "django.contrib.auth.backends.ModelBackend",
]
# Two limits, each counted over the cool-off window:
# - per username and address (ADMIN_LOGIN_FAILURE_LIMIT): one address cannot keep
#   guessing one account, and locks only itself out of it;
# - per username from any address (ADMIN_LOGIN_USERNAME_FAILURE_LIMIT, at most 10 as
#   PCI DSS 8.3.4 requires): guesses spread over many addresses still lock the account.
# axes counts failures per set of AXES_LOCKOUT_PARAMETERS but compares every set with the
# one AXES_FAILURE_LIMIT, so the per-set limits below are applied by our handler
# (core.security.PerParameterLimitHandler), a subclass of axes' database handler.
ADMIN_LOGIN_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
ADMIN_LOGIN_USERNAME_FAILURE_LIMIT = env.int("ADMIN_LOGIN_USERNAME_FAILURE_LIMIT", default=10)
ADMIN_LOGIN_LOCKOUT_LIMITS = [
    (["username", "ip_address"], ADMIN_LOGIN_FAILURE_LIMIT),
    (["username"], ADMIN_LOGIN_USERNAME_FAILURE_LIMIT),
]
AXES_LOCKOUT_PARAMETERS = [parameters for parameters, _limit in ADMIN_LOGIN_LOCKOUT_LIMITS]
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURE_LIMIT
AXES_HANDLER = "core.security.PerParameterLimitHandler"
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=30))
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.security.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
AXES_SENSITIVE_PARAMETERS = ["password", "otp", "pan"]
# Every admin login, failed or not, lands in axes' access log (PCI DSS 10.2.1).
AXES_ENABLE_ACCESS_FAILURE_LOG = True
