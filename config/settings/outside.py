"""Settings of the outside systems, built from core/outside/registry.py.

Every system a client calls gets `<PREFIX>_BASE_URL`, defaulting to the sandbox
(`SANDBOX_URL` + the system's mount) so dev and test need no variable per system;
production.py requires each one explicitly, https. A system's bearer key, read timeout
of its own and circuit breaker come from its entry too. Knobs one system alone has
(the token service's keys, the webhook limits) are listed below the loop.
"""

from __future__ import annotations

from core.outside import registry

from .env import env, sandbox_url

SANDBOX_URL = sandbox_url()

# Timeouts of every outside call, unless the system's entry has its own.
OUTSIDE_CONNECT_TIMEOUT = env.float("OUTSIDE_CONNECT_TIMEOUT", default=2.0)
OUTSIDE_READ_TIMEOUT = env.float("OUTSIDE_READ_TIMEOUT", default=8.0)
# /readyz asks each outside system a flow depends on whether it answers, all at once, each
# within this many seconds (connect and read), so the probe stays under its own timeout.
READYZ_OUTSIDE_TIMEOUT = env.float("READYZ_OUTSIDE_TIMEOUT", default=1.0)
# Each outside system's answer is kept this many seconds per process, so frequent probes
# do not call every outside system every time (0: ask at every probe).
READYZ_OUTSIDE_CACHE_SECONDS = env.float("READYZ_OUTSIDE_CACHE_SECONDS", default=10.0)
# Retries of transient outside errors: full-jitter exponential backoff.
OUTSIDE_MAX_ATTEMPTS = env.int("OUTSIDE_MAX_ATTEMPTS", default=6)
OUTSIDE_RETRY_BASE_SECONDS = env.float("OUTSIDE_RETRY_BASE_SECONDS", default=1.0)
OUTSIDE_RETRY_MAX_SECONDS = env.float("OUTSIDE_RETRY_MAX_SECONDS", default=60.0)

# Circuit breakers shared by all workers through Redis: {system name: value}.
BREAKER_FAIL_MAX: dict[str, int] = {}
BREAKER_RESET_SECONDS: dict[str, int] = {}


def _system_settings() -> dict:
    values: dict = {}
    for system in registry.called():
        values[system.base_url_setting] = env.str(
            system.base_url_setting, default=SANDBOX_URL + system.mount)
        if system.api_key:
            values[system.api_key] = env.str(system.api_key, default="")
        if system.read_timeout is not None:
            name = f"{system.prefix}_READ_TIMEOUT"
            values[name] = env.float(name, default=system.read_timeout)
        if system.connect_timeout is not None:
            name = f"{system.prefix}_CONNECT_TIMEOUT"
            values[name] = env.float(name, default=system.connect_timeout)
        if system.breaker_fail_max is not None:
            fail_max = f"{system.prefix}_BREAKER_FAIL_MAX"
            reset = f"{system.prefix}_BREAKER_RESET_SECONDS"
            values[fail_max] = env.int(fail_max, default=system.breaker_fail_max)
            values[reset] = env.int(reset, default=system.breaker_reset_seconds)
            BREAKER_FAIL_MAX[system.name] = values[fail_max]
            BREAKER_RESET_SECONDS[system.name] = values[reset]
    return values


# ISSUER_BASE_URL, TOKEN_SERVICE_BASE_URL, ..., ISSUER_API_KEY, TELCO_READ_TIMEOUT,
# TOKEN_SERVICE_BREAKER_FAIL_MAX, ...: one set per registry entry.
globals().update(_system_settings())

# --- the token service's own keys and its webhooks ----------------------------------------
TOKEN_SERVICE_MERCHANT_ID = env.str("TOKEN_SERVICE_MERCHANT_ID", default="")
TOKEN_SERVICE_KEY_ID = env.str("TOKEN_SERVICE_KEY_ID", default="")
TOKEN_SERVICE_SHARED_SECRET = env.str("TOKEN_SERVICE_SHARED_SECRET", default="")
TOKEN_SERVICE_JWE_PUBLIC_KEY = env.str("TOKEN_SERVICE_JWE_PUBLIC_KEY", default="")
TOKEN_SERVICE_WEBHOOK_SECRETS = env.list("TOKEN_SERVICE_WEBHOOK_SECRETS", default=[])
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
WEBHOOK_MAX_BYTES = env.int("WEBHOOK_MAX_BYTES", default=64 * 1024)
