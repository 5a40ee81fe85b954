import sys
import time
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo import seed as demo_seed
from demo.users import DEMO_USERS, ensure_demo_users
from retention.services import rollups_refresh


class Command(BaseCommand):
    help = "Fill the database with a believable Nordic subscription business (deterministic)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help="Pretend today is this date (YYYY-MM-DD).",
        )
        parser.add_argument("--flush", action="store_true", help="Delete existing Tack data first.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if there are customers already."
        )
        parser.add_argument(
            "--demo-users",
            action="store_true",
            help="Create the demo logins (always done when DEBUG is on).",
        )

    def handle(self, *args, customers, seed, today, flush, if_empty, demo_users, **options):
        if customers < 1:
            raise CommandError("--customers must be at least 1.")
        if not demo_seed.database_is_empty():
            if if_empty:
                self.stdout.write("Demo data already present; nothing to load.")
                self._logins(demo_users)
                return
            if not flush:
                raise CommandError("The database has customers already; use --flush to replace.")
            demo_seed.flush_demo_data()
        started = time.monotonic()
        counts = demo_seed.seed(
            customers=customers,
            seed=seed,
            today=today or timezone.localdate(),
            progress=self._progress,
        )
        sys.stderr.write("\n")
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{value:,} {label}" for label, value in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Seeded {summary} in {elapsed:.1f} s."))
        # The data went in with COPY, past the services' change marks: count it all.
        started = time.monotonic()
        rollups_refresh(rebuild=True)
        self.stdout.write(f"Built the dashboard's rollups in {time.monotonic() - started:.1f} s.")
        self._logins(demo_users)

    def _logins(self, demo_users: bool) -> None:
        if settings.DEBUG or demo_users:
            ensure_demo_users()
            for username, password, role in DEMO_USERS:
                self.stdout.write(f"  demo login: {username} / {password} ({role})")

    def _progress(self, label: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(
            f"\r  {label}: [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}"
        )
        sys.stderr.flush()
