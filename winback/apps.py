from django.apps import AppConfig


class WinbackConfig(AppConfig):
    name = "winback"
    verbose_name = "Tack: win-back"
