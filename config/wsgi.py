"""WSGI entry point for gunicorn; the settings module must be named (config/entrypoints.py)."""

from django.core.wsgi import get_wsgi_application

from config.entrypoints import require_settings_module

require_settings_module("config/wsgi.py")
application = get_wsgi_application()
