from django.apps import AppConfig

# Apps whose derived model and field names (see config/model_names.py) are translated.
TRANSLATED_APPS = ("community", "profiles", "commerce")
# The English names wrapped at start-up; config/model_names.py must list every one.
wrapped_names: set[str] = set()


def translate_derived_names() -> None:
    """Wrap model and field names Django derived from code names in ``gettext_lazy``.

    Only the names used at run time change; migrations read the models' declared
    options and fields' declared arguments, so no migration is detected.
    """
    from django.apps import apps
    from django.utils import translation
    from django.utils.functional import Promise
    from django.utils.translation import gettext_lazy

    def wrap(name: str):
        wrapped_names.add(name)
        return gettext_lazy(name)

    for model in apps.get_models():
        opts = model._meta
        if opts.app_label not in TRANSLATED_APPS:
            continue
        with translation.override(None):
            singular = str(opts.verbose_name)
        if "verbose_name" not in opts.original_attrs:
            opts.verbose_name = wrap(singular)
        if "verbose_name_plural" not in opts.original_attrs:
            opts.verbose_name_plural = wrap(f"{singular}s")
        for field in opts.get_fields():
            if field.auto_created or not (getattr(field, "concrete", False) or field.many_to_many):
                continue
            if not isinstance(field.verbose_name, Promise):
                field.verbose_name = wrap(str(field.verbose_name))


class MoimConfig(AppConfig):
    """Project-wide pieces that belong to no feature app: template filters, commands,
    translated derived model and field names."""

    name = "config"
    label = "moim"
    verbose_name = "Moim"

    def ready(self):
        from config import checks  # noqa: F401  (registers Moim's deploy checks)

        translate_derived_names()
        from config import logs, metrics

        logs.connect_celery_signals()
        metrics.connect_worker_signals()
