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
        # A tip given in a room shows in its chat as a ``tip`` message: commerce adds
        # the amount and the recipient to that message's payload (chat never imports it).
        from commerce.selectors import room_offers, tip_message_parts
        from community.chat.selectors import register_payload_part
        from community.rooms.selectors import register_room_offer_loader

        register_payload_part("tip", tip_message_parts)
        # A paid room's price and the viewer's access, on its cards, page and payload.
        register_room_offer_loader(loader=room_offers)
        # Account export and deletion registries (profiles), when they are installed.
        try:
            from profiles.deletion import register_deletion_hook
            from profiles.export import register_export_section
        except ImportError:
            return
        from commerce.privacy import anonymise_ledger_entries, export_ledger

        register_deletion_hook("ledger", anonymise_ledger_entries)
        register_export_section("ledger", export_ledger)
