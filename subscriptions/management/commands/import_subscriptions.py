import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from subscriptions.importing import COLUMNS, import_subscriptions_csv


class Command(BaseCommand):
    help = (
        "Import customers and subscriptions from a CSV file (safe to re-run). Columns: "
        + ", ".join(COLUMNS)
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.exists():
            raise CommandError(f"{file} does not exist.")
        with file.open(newline="", encoding="utf-8-sig") as handle:
            total = max(sum(1 for _ in handle) - 1, 0)
            handle.seek(0)
            report = import_subscriptions_csv(handle, progress=lambda n: self._progress(n, total))
        sys.stderr.write("\n")
        for line, message in report.errors:
            self.stderr.write(f"line {line}: {message}")
        self.stdout.write(
            f"{report.imported} imported or updated, {report.unchanged} unchanged, "
            f"{len(report.errors)} rejected."
        )
        if report.errors:
            raise CommandError(f"{len(report.errors)} row(s) were not imported (see above).")

    def _progress(self, done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            sys.stderr.write(f"\r  {done:,}/{total:,} rows")
            sys.stderr.flush()
