from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageTranslation(models.Model):
    """A message's text in another language, as an engine rendered it: the cache that
    spares the engine a second call. Deleted when the message is edited, deleted or
    hidden (``community.translation.receivers``)."""

    message = models.ForeignKey(
        "community.Message",
        verbose_name=_("message"),
        on_delete=models.CASCADE,
        related_name="translations",
    )
    # The reader's language it was rendered in, and the one it was detected to be in
    # ("" when unsure: the engine guessed).
    language = models.CharField(_("language"), max_length=10)
    source_language = models.CharField(_("source language"), max_length=10, blank=True)
    text = models.TextField(_("text"))
    # The engine that rendered it (TRANSLATION_ENGINE), for operators comparing engines.
    engine = models.CharField(_("engine"), max_length=40)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message translation")
        verbose_name_plural = _("message translations")
        constraints = [
            models.UniqueConstraint(
                fields=["message", "language"], name="message_translation_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} in {self.language}"
