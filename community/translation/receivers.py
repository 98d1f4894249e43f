"""Signal receivers of translation, wired in ``community/apps.py`` (chat does not know
translation exists)."""

from community.translation.services import forget_message_translations

# A save that touches these changes what a translation says (an edit), or whether the
# message may be shown at all (a delete, a host's or moderator's hide).
INVALIDATING_FIELDS = {"body", "deleted_at"}


def forget_translations_of_changed_message(
    sender, instance, created=False, update_fields=None, **kwargs
):
    """``post_save`` of ``Message``: in the transaction of the edit or removal."""
    if created:
        return
    if update_fields is not None and not INVALIDATING_FIELDS & set(update_fields):
        return
    forget_message_translations(message_id=instance.pk)
