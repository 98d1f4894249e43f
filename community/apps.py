from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = _("Community")

    def ready(self) -> None:
        # The composition root of the community packages: the one place that wires a
        # lower package's signals and registries to the packages built on it.
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        from community.chat import receivers as history_receivers
        from community.chat import screening
        from community.chat import services as chat_services
        from community.chat.models import Message
        from community.chat.selectors import register_payload_part
        from community.links import selectors as links_selectors
        from community.links import services as links_services
        from community.media.models import MediaAsset
        from community.media.signals import media_changed
        from community.meetups import services as meetups
        from community.meetups.selectors import export_meetup_rsvps, load_meetup_parts
        from community.moderation.models import BlockedPattern
        from community.notifications import services as notifications
        from community.polls.selectors import export_poll_votes, load_poll_parts
        from community.push import selectors as push_selectors
        from community.push import services as push
        from community.reactions import selectors as reactions_selectors
        from community.reactions import services as reactions
        from community.reads import receivers as reads_receivers
        from community.reads import selectors as reads_selectors
        from community.rooms.models import Membership, Room
        from community.rooms.services import register_departure_hook
        from community.translation import detection as translation_detection
        from community.translation import receivers as translation_receivers
        from community.translation import selectors as translation_selectors
        from config.db_routing import mark_message_author
        from profiles.deletion import register_deletion_hook
        from profiles.export import register_export_section
        from profiles.models import Profile, User

        # A person's reactions are in their data export and go with their account.
        register_export_section("reactions", reactions_selectors.export_reactions)
        register_deletion_hook("reactions", reactions.delete_reactions_on_account_deletion)
        # The devices that get a person's pushes are in their export (deleted with them).
        register_export_section("push_devices", push_selectors.export_push_devices)
        # An image or video finished (or failed) processing: its messages are updated.
        media_changed.connect(chat_services.announce_media_change, dispatch_uid="chat-media")
        # Cached history pages (community/chat/selectors.py, history_page) are renewed
        # by every save or delete of what they show, the admin's included.
        for model, receiver in (
            (Message, history_receivers.message_changed),
            (Membership, history_receivers.membership_changed),
            (MediaAsset, history_receivers.media_changed),
            (Room, history_receivers.room_changed),
            (User, history_receivers.user_changed),
            (Profile, history_receivers.profile_changed),
        ):
            for signal in (post_save, post_delete):
                signal.connect(receiver, sender=model, dispatch_uid=f"history-{model.__name__}")
        # Poll and meetup messages carry their poll or event in the one message payload.
        register_payload_part("poll", load_poll_parts)
        register_payload_part("meetup", load_meetup_parts)
        # A member who leaves a room gives up their seats at its meetups.
        register_departure_hook(hook=meetups.release_departed_answers)
        # A person's votes and RSVPs are in their data export.
        register_export_section("poll_votes", export_poll_votes)
        register_export_section("meetup_rsvps", export_meetup_rsvps)
        # Screening keeps the rules in the shared cache: a changed rule retires its scope's.
        for signal in (post_save, post_delete):
            signal.connect(
                screening.forget_rules, sender=BlockedPattern, dispatch_uid="screening-rules"
            )
        # Read-your-own-writes for chat messages sent over sockets too (config/db_routing.py).
        post_save.connect(mark_message_author, sender=Message, dispatch_uid="moim-replica-writer")
        # A text message with a URL (or an edited text) gets its link preview looked up
        # after commit; the card is the payload's ``link_preview``.
        post_save.connect(
            links_services.queue_message_preview, sender=Message, dispatch_uid="links-preview"
        )
        register_payload_part("link_preview", links_selectors.message_link_previews)
        # Each message shows how many members have not read it yet (KakaoTalk's "1"):
        # the same for every reader, cached with the page under the room's reads
        # version, which a membership's or room's save renews (markers: read_marker_moved).
        register_payload_part(
            "unread_count",
            reads_selectors.unread_counts,
            version_key=reads_selectors.room_reads_version_key,
        )
        for model, receiver in (
            (Membership, reads_receivers.membership_changed),
            (Room, reads_receivers.room_changed),
        ):
            for signal in (post_save, post_delete):
                signal.connect(receiver, sender=model, dispatch_uid=f"reads-{model.__name__}")
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
