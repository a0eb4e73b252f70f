import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application
from django.db import connections
from gunicorn.app.base import BaseApplication

from sandbox.bootstrap import prepare_store


class SandboxServer(BaseApplication):
    """gunicorn serving the already-loaded sandbox WSGI app (no argv parsing, no config file)."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


class Command(BaseCommand):
    help = "Serve the TrustedForm emulator over HTTP with gunicorn (gthread: one worker, many threads)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--threads",
            type=int,
            default=32,
            help="concurrent requests; latency knobs sleep in these threads",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_store()
        # The worker is forked from this process: it must not inherit an open SQLite connection.
        connections.close_all()
        host, port = options["host"], options["port"]

        def when_ready(server: Any) -> None:
            sys.stdout.write(f"Sandbox listening on http://{host}:{port}\n")
            sys.stdout.flush()

        SandboxServer(
            get_wsgi_application(),
            {
                "bind": f"{host}:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": options["threads"],
                "timeout": 120,
                # Hung requests (the timeout knob) must not hold up a stop for long.
                "graceful_timeout": 3,
                "keepalive": 5,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "when_ready": when_ready,
            },
        ).run()
