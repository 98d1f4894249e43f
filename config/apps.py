from django.apps import AppConfig


class MoimConfig(AppConfig):
    """Project-wide pieces that belong to no feature app: template filters, commands."""

    name = "config"
    label = "moim"
    verbose_name = "Moim"
