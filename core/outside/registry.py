"""Every outside system the service knows, as data: one entry per system.

Standard library only and no Django: the settings, the sandbox (its mounts), devstack
(the stack's base URLs) and the test helpers all read this list, so a new system is one
entry here, one client module (a `core.outside.client.OutsideClient` subclass) and one
sandbox module; nothing else names it (docs/architecture.md, "Adding an outside system").

Names. `name` is the system's one spelling in code: the `system` label of
`outside_call_seconds`, the prefix of the error codes a client raises
(`token_service_timeout`, `push_unregistered`), the circuit breaker's Redis namespace and
the heading of its section in docs/dependencies.md. `prefix` starts its settings
(`TOKEN_SERVICE_BASE_URL`); it is kept as deployments already spell it. `mount` is where
the sandbox serves the system: the counterpart's own first path segment where it has one
(CyberSource's `/tms`, `/pts`, `/tss`, `/reporting`), so a signed request-target in the
sandbox is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutsideSystem:
    name: str
    title: str
    # Settings: `<prefix>_BASE_URL` (and `_READ_TIMEOUT`, `_BREAKER_*` below).
    prefix: str
    # Where the sandbox serves it, and the sandbox's routes for it ("module:attribute").
    mount: str
    sandbox_routes: str
    # Extra routes under /sandbox (controls a test drives), if the system has any.
    sandbox_controls: str = ""
    # The client module, "" while no flow calls the system yet. Only systems with a
    # client have settings (and production requires their base URL).
    client: str = ""
    # The setting holding its bearer key (production checks its length); "": the client
    # authenticates another way (HTTP Signature, OAuth2) or none is known yet. The SMS
    # gateway's is GATEWAY_API_KEY, as deployments already spell it.
    api_key: str = ""
    # Timeouts in seconds; None: the shared OUTSIDE_CONNECT_TIMEOUT / OUTSIDE_READ_TIMEOUT.
    # A read timeout of its own is a setting, `<prefix>_READ_TIMEOUT`.
    connect_timeout: float | None = None
    read_timeout: float | None = None
    # Circuit breaker shared by all workers (state in Redis), None: no breaker.
    # Settings `<prefix>_BREAKER_FAIL_MAX` and `<prefix>_BREAKER_RESET_SECONDS`.
    breaker_fail_max: int | None = None
    breaker_reset_seconds: int = 30
    # The counterpart's own health endpoint, if it publishes one ("" for none).
    health_path: str = ""

    @property
    def base_url_setting(self) -> str:
        return f"{self.prefix}_BASE_URL"


SYSTEMS: list[OutsideSystem] = [
    OutsideSystem(
        name="issuer", title="Issuer host", prefix="ISSUER", mount="/issuer",
        sandbox_routes="sandbox.issuer:routes", client="provisioning.issuer",
        api_key="ISSUER_API_KEY",
    ),
    OutsideSystem(
        name="token_service", title="Token service", prefix="TOKEN_SERVICE", mount="/tms",
        sandbox_routes="sandbox.token_service:routes", client="tokens.token_service",
        breaker_fail_max=10, breaker_reset_seconds=30,
    ),
    # FCM HTTP v1 shaped; its OAuth2 access tokens come from the service account's
    # token_uri (Google's token endpoint; the sandbox serves it at <mount>/token).
    OutsideSystem(
        name="push", title="Push gateway", prefix="PUSH_GATEWAY", mount="/push",
        sandbox_routes="sandbox.gateways:push_routes", client="notifications.channels",
    ),
    OutsideSystem(
        name="sms", title="SMS gateway", prefix="SMS_GATEWAY", mount="/sms",
        sandbox_routes="sandbox.gateways:sms_routes", client="notifications.channels",
        api_key="GATEWAY_API_KEY",
    ),
    # SIM-swap lookups sit on the eligibility path: a short read timeout, then the rule's
    # fallback.
    OutsideSystem(
        name="telco", title="Telco", prefix="TELCO", mount="/telco",
        sandbox_routes="sandbox.telco:routes", client="decisioning.telco",
        api_key="TELCO_API_KEY",
        read_timeout=2.0, breaker_fail_max=5, breaker_reset_seconds=30,
    ),
    # Visa Direct (the transfer flow).
    OutsideSystem(
        name="mpesa", title="M-Pesa ledger", prefix="MPESA", mount="/mpesa",
        sandbox_routes="sandbox.mpesa:routes", sandbox_controls="sandbox.mpesa:control_routes",
        client="transfers.ledger", api_key="MPESA_API_KEY",
    ),
    OutsideSystem(
        name="attributes", title="Visa payout attributes inquiry (PAAI)",
        prefix="ATTRIBUTES", mount="/paai", sandbox_routes="sandbox.attributes:routes",
        client="transfers.attributes",
    ),
    OutsideSystem(
        name="payouts", title="Visa Direct payouts (CyberSource PTS)", prefix="PAYOUTS",
        mount="/pts", sandbox_routes="sandbox.payouts:payout_routes", client="transfers.payouts",
    ),
    OutsideSystem(
        name="transaction_search", title="Transaction status (CyberSource TSS)",
        prefix="PAYOUT_SEARCH", mount="/tss", sandbox_routes="sandbox.payouts:search_routes",
        client="transfers.payouts",
    ),
    OutsideSystem(
        name="screening", title="Sanctions screening", prefix="SCREENING", mount="/screening",
        sandbox_routes="sandbox.screening:routes", client="transfers.screening",
        api_key="SCREENING_API_KEY",
    ),
    # A day's report can run to many lines: a read timeout of its own.
    OutsideSystem(
        name="settlement_reports", title="Settlement reports (CyberSource reporting)",
        prefix="SETTLEMENT_REPORTS", mount="/reporting", sandbox_routes="sandbox.settlement:routes",
        sandbox_controls="sandbox.settlement:control_routes", client="transfers.settlement",
        read_timeout=30.0,
    ),
]


def systems() -> list[OutsideSystem]:
    """Every entry, in order (read at call time, so a test may extend SYSTEMS)."""
    return list(SYSTEMS)


def called() -> list[OutsideSystem]:
    """The systems some client calls: these have settings and are required in production."""
    return [system for system in SYSTEMS if system.client]


def get(name: str) -> OutsideSystem:
    for system in SYSTEMS:
        if system.name == name:
            return system
    raise KeyError(f"no outside system named {name!r} in core/outside/registry.py")


def sandbox_base_urls(sandbox_url: str) -> dict[str, str]:
    """`<PREFIX>_BASE_URL` of every called system, aimed at the sandbox at `sandbox_url`."""
    root = sandbox_url.rstrip("/")
    return {system.base_url_setting: root + system.mount for system in called()}
