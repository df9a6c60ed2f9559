#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import sys

if __name__ == "__main__":
    from django.core.exceptions import ImproperlyConfigured

    from core.entrypoints import require_settings_module

    try:
        require_settings_module("manage.py")
    except ImproperlyConfigured as missing:
        sys.exit(str(missing))  # one sentence on stderr, exit status 1, no traceback
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
