"""Moim's own production rules, run by ``manage.py check --deploy``.

Django's deploy checks cover its own settings (and only warn about insecure cookies);
these are the rules a Moim deployment must meet before it faces users, as errors so
``check --deploy`` exits non-zero. Each rule lives here and only here (the payments rule,
``commerce.W001`` for the sandbox provider, lives with the payments in commerce/checks.py).
"""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register


def _is_within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _private_media_root() -> Path | None:
    """The private media directory, or None when media is not on local disk."""
    media = settings.STORAGES.get("media", {})
    if media.get("BACKEND") != "django.core.files.storage.FileSystemStorage":
        return None
    location = media.get("OPTIONS", {}).get("location") or settings.MEDIA_ROOT
    return Path(location).resolve()


@register(Tags.security, deploy=True)
def check_private_media_root(app_configs=None, **kwargs):
    root = _private_media_root()
    if root is None:
        return []
    errors = []
    code_dir = Path(settings.BASE_DIR).resolve()
    if _is_within(root, code_dir):
        errors.append(
            Error(
                f"MEDIA_PRIVATE_ROOT ({root}) is inside the code checkout ({code_dir}); "
                "uploads there are lost on the next deploy.",
                hint="Point MEDIA_PRIVATE_ROOT at a persistent directory outside the code.",
                id="moim.E001",
            )
        )
    public_root = Path(settings.MEDIA_ROOT).resolve()
    if _is_within(root, public_root) or _is_within(public_root, root):
        errors.append(
            Error(
                f"MEDIA_PRIVATE_ROOT ({root}) overlaps MEDIA_ROOT ({public_root}), which is "
                "served publicly at MEDIA_URL; private-room media would skip its permission "
                "check.",
                hint="Use two separate directories.",
                id="moim.E002",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_site_url(app_configs=None, **kwargs):
    url = urlsplit(settings.SITE_URL)
    if url.scheme != "https" or not url.hostname:
        return [
            Error(
                f"SITE_URL is {settings.SITE_URL!r}; links in emails, invites and previews "
                "need the public https address.",
                hint="Set SITE_URL, e.g. https://moim.example.",
                id="moim.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_secure_cookies(app_configs=None, **kwargs):
    names = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    insecure = [name for name in names if not getattr(settings, name)]
    if insecure:
        return [
            Error(
                f"{' and '.join(insecure)} off: the cookies would travel over plain HTTP.",
                hint="Leave them on (their default without DEBUG); serve the site over HTTPS.",
                id="moim.E004",
            )
        ]
    return []


@register(Tags.compatibility, deploy=True)
def check_production_stack(app_configs=None, **kwargs):
    errors = []
    if settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer":
        errors.append(
            Error(
                "The channel layer is in memory: a message sent through one process never "
                "reaches sockets held by another, and presence is per process.",
                hint="Set REDIS_URL.",
                id="moim.E006",
            )
        )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        errors.append(
            Error(
                "CELERY_TASK_ALWAYS_EAGER is on: media processing and other tasks run inside "
                "the web request.",
                hint="Set REDIS_URL (or CELERY_BROKER_URL) and run a Celery worker.",
                id="moim.E007",
            )
        )
    return errors
