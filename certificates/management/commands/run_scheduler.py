"""The periodic sweep: one per deployment (guarded by an advisory lock on PostgreSQL)."""

import logging
import time
from datetime import date

from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from certificates import sweeping
from certificates.alerts.models import Alert
from certificates.alerts.raising import raise_alert, resolve_alerts
from certificates.apilog import models as api_log
from certificates.evidence import resuming, retention

ADVISORY_LOCK_ID = 0x7466_6461  # "tfda"
logger = logging.getLogger("certificates.apilog")


class Command(BaseCommand):
    help = "Every N seconds: expire, check in what is at risk, and wake the worker for what is due."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--every", type=float, default=60.0, help="seconds between sweeps")
        parser.add_argument("--once", action="store_true", help="sweep once and exit")

    def handle(self, *args, every: float, once: bool, **options) -> None:
        locked = connection.vendor == "postgresql"
        if locked:
            # A second scheduler stands by until the first one's lock is released.
            while not self._take_lock():
                if once:
                    self.stderr.write("Another scheduler holds the sweep lock; not sweeping.")
                    return
                time.sleep(every)
        try:
            self._sweep(every, once)
        finally:
            # The lock belongs to the database session, which outlives the command when it is called
            # from a long-lived process (call_command): held on, it would stop every other scheduler.
            if locked:
                self._release_lock()

    def _sweep(self, every: float, once: bool) -> None:
        anchored: date | None = None
        retained: date | None = None
        while True:
            anchored = self._anchor_head(anchored)
            retained = self._retain_daily(retained)
            stats = sweeping.sweep_and_wake()
            if resumed := resuming.resume_stalled_builds():
                self.stdout.write(
                    f"packages: {resumed} left without progress by a stopped worker, queued again"
                )
            if stats.due or stats.checked_in or stats.expired:
                self.stdout.write(
                    f"sweep: {stats.due} due, {stats.checked_in} checked in, {stats.expired} expired",
                    ending="\n",
                )
            if once:
                return
            time.sleep(every)

    def _anchor_head(self, anchored: date | None) -> date:
        """Once a day, write the API-call log's head to the log output and the alert channels: copies
        outside the database that `verify_api_log --expect SEQ:HASH` can later prove the log extends."""
        today = timezone.now().date()
        if anchored != today and (head := api_log.current_head()):
            logger.info("API-call log head %s (verify_api_log --expect %s)", head, head)
            self.stdout.write(f"API-call log head: {head}")
            kept = Alert.objects.filter(event=Alert.Event.API_LOG_HEAD, subject=today.isoformat()).exists()
            if kept:  # a restarted scheduler: today's head is already on its way to the channels
                return today
            raise_alert(
                Alert.Event.API_LOG_HEAD,
                subject=today.isoformat(),
                severity=Alert.Severity.INFO,
                summary=f"The API-call log's head on {today:%b %-d, %Y} is {head}. Keep this message: "
                f"`manage.py verify_api_log --expect {head}` proves the log still extends it.",
                details={"head": head},
            )
            resolve_alerts(Alert.Event.API_LOG_HEAD, subject=today.isoformat())  # a record, not a problem
        return today

    def _retain_daily(self, retained: date | None) -> date:
        """Once a day, have a worker apply the retention rule (it skips a day that already has its run)."""
        today = timezone.now().date()
        if retained != today and not retention.ran_on(today):
            retention.apply_retention_task.enqueue()
            self.stdout.write("retention: queued today's run")
        return today

    def _take_lock(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_ID])
            return bool(cursor.fetchone()[0])

    def _release_lock(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_ID])
