"""Web cases used to open when the cancel link was fetched (GET), so every mail scanner and
link preview opened one, later marked abandoned. A case now opens at the customer's first
click — a reason, or cancelling without one — so a web case with no reason that was never
decided by the customer (still open, or abandoned by the sweep) is what a page view left
behind: nobody clicked. They are removed with their steps and history, so the existing
data reads like the new (the rollups rebuild themselves: rollup definitions 6). Every
other case has a reason or was cancelled, and stays."""

from django.db import migrations

LEFT_BY_A_PAGE_VIEW = {
    "channel": "web",
    "reason__isnull": True,
    "outcome__in": ["open", "abandoned"],
}


def forget(apps, schema_editor):
    Case = apps.get_model("cancellations", "CancellationCase")
    History = apps.get_model("cancellations", "HistoricalCancellationCase")
    ids = list(
        Case.objects.filter(**LEFT_BY_A_PAGE_VIEW, offers__isnull=True).values_list("pk", flat=True)
    )
    for start in range(0, len(ids), 5000):
        batch = ids[start : start + 5000]
        Case.objects.filter(pk__in=batch).delete()  # steps go with them (cascade)
        History.objects.filter(id__in=batch).delete()


class Migration(migrations.Migration):
    dependencies = [("cancellations", "0009_offer_rule_targeting")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop, elidable=True)]
