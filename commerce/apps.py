from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = _("Commerce")

    def ready(self):
        from django.core import checks

        from commerce.checks import check_payments_sandbox

        checks.register(check_payments_sandbox, checks.Tags.security, deploy=True)
        # A paid room is entered only with a paid entry: commerce adds that check to the
        # rooms' joins (rooms never imports commerce, which is built on it).
        from commerce.services.rooms import check_room_entry_allowed
        from community.rooms.services import register_entry_check

        register_entry_check(check=check_room_entry_allowed)
        # Account export and deletion registries (profiles), when they are installed.
        try:
            from profiles.deletion import register_deletion_hook
            from profiles.export import register_export_section
        except ImportError:
            return
        from commerce.privacy import anonymise_ledger_entries, export_ledger

        register_deletion_hook("ledger", anonymise_ledger_entries)
        register_export_section("ledger", export_ledger)
