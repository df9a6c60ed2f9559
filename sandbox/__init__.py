"""Stand-ins for the outside systems (issuer host, token service, push and SMS gateways, telco).

One Starlette process; see sandbox/README.md for endpoints, seeded cards and knobs.
"""
