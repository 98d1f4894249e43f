from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class Interest(models.Model):
    """A curated interest tag, named in several languages, optionally nested."""

    slug = models.SlugField(max_length=60, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=80)
    name_ko = models.CharField(_("name (Korean)"), max_length=80, blank=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=80, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # Denormalised for ranking and display; kept by the room services.
    room_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language, falling back to English."""
        language = (translation.get_language() or "en")[:2]
        return getattr(self, f"name_{language}", "") or self.name_en


class Hashtag(models.Model):
    """A free hashtag; ``key`` is the NFKC, case-folded form so look-alikes collide."""

    key = models.CharField(max_length=50, unique=True)
    label = models.CharField(max_length=50)

    def __str__(self) -> str:
        return f"#{self.label}"
