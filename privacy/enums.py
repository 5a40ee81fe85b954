from django.db import models


class DataRightsAction(models.TextChoices):
    EXPORT = "export", "Export"
    ERASURE = "erasure", "Erasure"
