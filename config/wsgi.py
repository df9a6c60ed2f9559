"""WSGI entry point for gunicorn; the settings module must be named (core/entrypoints.py)."""

from django.core.wsgi import get_wsgi_application

from core.entrypoints import require_settings_module

require_settings_module("config/wsgi.py")
application = get_wsgi_application()
