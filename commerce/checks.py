"""Commerce's ``manage.py check --deploy`` rules (registered in ``CommerceConfig.ready``)."""

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

SANDBOX_IN_PRODUCTION = "commerce.W001"


def check_payments_sandbox(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The sandbox provider confirms every top-up without taking money."""
    if settings.DEBUG or not settings.PAYMENTS_SANDBOX:
        return []
    sandboxes = sorted(
        name
        for name, path in settings.COMMERCE_PAYMENT_PROVIDERS.items()
        if getattr(import_string(path), "is_sandbox", False)
    )
    if not sandboxes:
        return []
    return [
        checks.Warning(
            "PAYMENTS_SANDBOX is on with DEBUG off: the sandbox payment provider "
            f"({', '.join(sandboxes)}) credits every top-up without taking any money.",
            hint="Unset PAYMENTS_SANDBOX in production (keep it for a staging site only) "
            "and configure a real provider in COMMERCE_PAYMENT_PROVIDERS.",
            id=SANDBOX_IN_PRODUCTION,
        )
    ]
