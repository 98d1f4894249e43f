"""Signals media sends for the packages that show media (chat): media never imports them."""

from django.dispatch import Signal

# Sent inside the transaction that changed an asset's state or renditions, with
# ``asset``; receivers defer their side effects to the commit.
media_changed = Signal()
