from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = _("Community")

    def ready(self) -> None:
        # The composition root of the community packages: the one place that wires a
        # lower package's signals and registries to the packages built on it.
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save

        from community.chat import services as chat_services
        from community.chat.models import Message
        from community.media.signals import media_changed
        from community.notifications import services as notifications
        from community.push import selectors as push_selectors
        from community.push import services as push
        from community.reactions import selectors as reactions_selectors
        from community.reactions import services as reactions
        from config.db_routing import mark_message_author
        from profiles.deletion import register_deletion_hook
        from profiles.export import register_export_section

        # A person's reactions are in their data export and go with their account.
        register_export_section("reactions", reactions_selectors.export_reactions)
        register_deletion_hook("reactions", reactions.delete_reactions_on_account_deletion)
        # The devices that get a person's pushes are in their export (deleted with them).
        register_export_section("push_devices", push_selectors.export_push_devices)
        # An image or video finished (or failed) processing: its messages are updated.
        media_changed.connect(chat_services.announce_media_change, dispatch_uid="chat-media")
        # Read-your-own-writes for chat messages sent over sockets too (config/db_routing.py).
        post_save.connect(mark_message_author, sender=Message, dispatch_uid="moim-replica-writer")
        # Push sits above notifications: every notification and every message sent passes
        # through it, and pushes go out after commit.
        notifications.register_delivery_hooks(
            on_notification=push.queue_notification_push, on_message=push.queue_room_push
        )

        def remove_session_push_targets(sender, request=None, user=None, **kwargs):
            # A browser's log-out: its Web Push subscription stops receiving.
            if user is not None and request is not None and hasattr(request, "session"):
                targets = request.session.get(push.SESSION_TARGETS_KEY) or []
                push.remove_devices(
                    user_id=user.pk, targets=[(str(kind), int(pk)) for kind, pk in targets]
                )

        user_logged_out.connect(remove_session_push_targets, dispatch_uid="push-logout", weak=False)
