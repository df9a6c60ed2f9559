"""The floor of the benchmark: the least any service on this stack can do per request.

A plain DRF view that inserts one row, and a chain of no-op Celery tasks (as many as a
green provisioning has hops) that each update that row. Installed only by
bench/settings.py; never part of the production URLconf or INSTALLED_APPS.
"""
