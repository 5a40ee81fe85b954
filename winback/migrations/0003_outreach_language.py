"""Every outreach row carries its language from planning on; fill it in for older rows."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill_language(apps, schema_editor):
    Outreach = apps.get_model("winback", "Outreach")
    Customer = apps.get_model("subscriptions", "Customer")
    Outreach.objects.filter(language="").update(
        language=Subquery(Customer.objects.filter(pk=OuterRef("customer_id")).values("locale")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("winback", "0002_default_campaigns"),
        ("subscriptions", "0001_initial"),
    ]

    operations = [migrations.RunPython(fill_language, migrations.RunPython.noop)]
