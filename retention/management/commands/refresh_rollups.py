from django.core.management.base import BaseCommand

from retention.services import rollups_refresh


class Command(BaseCommand):
    help = "Bring the dashboard's daily rollups up to date (--rebuild: count everything again)."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")

    def handle(self, *args, rebuild: bool = False, **options):
        result = rollups_refresh(rebuild=rebuild)
        self.stdout.write(
            f"{'Rebuilt' if result.rebuilt else 'Refreshed'} the rollups: {result.marks} "
            f"changes, {result.case_days} case days, {result.outreach_days} outreach days and "
            f"{result.comeback_days} comeback days recounted."
        )
