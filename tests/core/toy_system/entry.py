"""The toy system's registry entry (a real system's entry goes in
core/outside/registry.py's SYSTEMS)."""

from core.outside.registry import OutsideSystem

TOY = OutsideSystem(
    name="toy", title="Toy", prefix="TOY", mount="/toy",
    sandbox_routes="tests.core.toy_system.sandbox:routes",
    client="tests.core.toy_system.client", api_key="TOY_API_KEY", read_timeout=1.5,
)
