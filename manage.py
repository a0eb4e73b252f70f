#!/usr/bin/env python
"""Django's command-line utility for tfdash.

The sandbox (the TrustedForm emulator) is a separate service with its own settings, database and URLconf;
its commands run under `sandbox.settings` so that they never touch the product's database.
"""

import os
import sys

SANDBOX_COMMANDS = {"run_sandbox", "sandbox_mint", "sandbox_migrate"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in SANDBOX_COMMANDS:
        os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    else:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tfdash.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
