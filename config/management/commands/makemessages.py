"""``makemessages`` that also finds the scripts' ``t("...")`` calls.

The scripts alias Django's JavaScript catalog as ``var t = window.gettext || ...`` (so they
still work if the catalog failed to load); xgettext must know that keyword.
"""

from django.core.management.commands import makemessages

JS_KEYWORDS = ["--keyword=t", "--keyword=ngettext:1,2"]


class Command(makemessages.Command):
    def handle(self, *args, **options):
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*self.xgettext_options, *JS_KEYWORDS]
        return super().handle(*args, **options)
