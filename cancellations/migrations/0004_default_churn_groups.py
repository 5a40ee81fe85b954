"""The shipped reasons' default churn groups, corrected to the documented rules.

Life changes and "no longer needed" are self-switchers, a competitor's features pull customers
away, and our own price is left to the rules (bought away when a competitor is named). Only
rows still holding the value first shipped are changed, so a manager's choice is kept.
"""

from django.db import migrations

CHANGES = {
    "moving": ("pulled_away", "self_switcher"),
    "illness": ("pulled_away", "self_switcher"),
    "lost_job": ("pulled_away", "self_switcher"),
    "family_change": ("pulled_away", "self_switcher"),
    "new_job": ("pulled_away", "self_switcher"),
    "no_need": ("pulled_away", "self_switcher"),
    "competitor_features": ("bought_away", "pulled_away"),
    "price": ("self_switcher", ""),
}


def forwards(apps, schema_editor):
    ExitReason = apps.get_model("cancellations", "ExitReason")
    for code, (old, new) in CHANGES.items():
        ExitReason.objects.filter(code=code, default_churn_group=old).update(
            default_churn_group=new
        )


def backwards(apps, schema_editor):
    ExitReason = apps.get_model("cancellations", "ExitReason")
    for code, (old, new) in CHANGES.items():
        ExitReason.objects.filter(code=code, default_churn_group=new).update(
            default_churn_group=old
        )


class Migration(migrations.Migration):
    dependencies = [("cancellations", "0003_phone_desk")]

    operations = [migrations.RunPython(forwards, backwards)]
