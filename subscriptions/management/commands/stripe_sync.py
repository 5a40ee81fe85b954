import sys

from django.core.management.base import BaseCommand

from subscriptions.stripe_billing.sync import stripe_sync


class Command(BaseCommand):
    help = (
        "Import prices (as plans), customers and subscriptions from Stripe, a page at a time. "
        "Safe to re-run: what Tack already holds is left alone; what it cannot take is listed."
    )

    def handle(self, *args, **options):
        report = stripe_sync(progress=self._progress)
        sys.stderr.write("\n")
        for kind in ("plan", "customer", "subscription"):
            self.stdout.write(
                f"{kind}s: {report.created[kind]} created, {report.updated[kind]} updated, "
                f"{report.unchanged[kind]} unchanged"
            )
        for (kind, reason), count in sorted(report.skipped.items()):
            self.stdout.write(f"skipped {count} {kind}(s): {reason}")

    def _progress(self, kind: str, done: int) -> None:
        sys.stderr.write(f"\r  {kind}: {done:,} read".ljust(40))
        sys.stderr.flush()
