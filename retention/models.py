from django.db import models


class Dashboard(models.Model):
    """No table: it carries the permission to see the retention dashboard."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboard", "Can view the retention dashboard")]

    def __str__(self) -> str:
        return "Retention dashboard"
