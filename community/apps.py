from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = _("Community")

    def ready(self) -> None:
        # The composition root of the community packages: the one place that wires a
        # lower package's signals and registries to the packages built on it.
        from django.conf import settings
        from django.db.models.signals import post_save

        from community.chat import services as chat_services
        from community.chat.models import Message
        from community.chat.selectors import register_payload_part
        from community.media.signals import media_changed
        from community.reactions import selectors as reactions_selectors
        from community.reactions import services as reactions
        from community.reads import selectors as reads_selectors
        from community.translation import detection as translation_detection
        from community.translation import receivers as translation_receivers
        from community.translation import selectors as translation_selectors
        from config.db_routing import mark_message_author
        from profiles.deletion import register_deletion_hook
        from profiles.export import register_export_section

        # A person's reactions are in their data export and go with their account.
        register_export_section("reactions", reactions_selectors.export_reactions)
        register_deletion_hook("reactions", reactions.delete_reactions_on_account_deletion)
        # An image or video finished (or failed) processing: its messages are updated.
        media_changed.connect(chat_services.announce_media_change, dispatch_uid="chat-media")
        # Read-your-own-writes for chat messages sent over sockets too (config/db_routing.py).
        post_save.connect(mark_message_author, sender=Message, dispatch_uid="moim-replica-writer")
        # Each message shows how many members have not read it yet (KakaoTalk's "1").
        register_payload_part("unread_count", reads_selectors.unread_counts)
        # "Translate" on messages: whether it can work, and which language each is in.
        register_payload_part("translation", translation_selectors.translation_parts)
        if settings.TRANSLATION_ENGINE:
            # The detection model loads in about half a second: at start, not in a send.
            translation_detection.warm_up()
        # An edit, a delete or a hide forgets the message's cached translations.
        post_save.connect(
            translation_receivers.forget_translations_of_changed_message,
            sender=Message,
            dispatch_uid="translation-forget-on-change",
        )
