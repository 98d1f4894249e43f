"""Writes for accounts and profiles."""

import re
import unicodedata
import zoneinfo

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _

from community import events
from community.media.services import (
    MediaUse,
    check_upload,
    release_media_asset,
    upload_image_for,
)
from community.notifications.services import notify_new_follower, user_group
from community.push.services import remove_all_devices as remove_all_push_devices
from community.push.services import remove_devices as remove_push_devices
from community.rooms.models import Interest

# Re-exported: callers that know profiles.services find the one rule there too.
from config.client_ip import client_ip  # noqa: F401
from config.counters import count_in_window
from config.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnprocessableError,
)
from profiles import recovery
from profiles.deletion import run_deletion_hooks
from profiles.models import (
    BIO_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    STATUS_MESSAGE_MAX_LENGTH,
    STATUS_POST_MAX_LENGTH,
    TIMEZONE_CHOICES,
    Block,
    Follow,
    Profile,
    StatusPost,
    User,
)
from profiles.selectors import blocks_group_name
from profiles.tasks import send_password_reset_emails, send_verification_email
from profiles.text import lookalike_key
from profiles.tokens import revoke_refresh_tokens

USERNAME_RE = re.compile(r"^[\w.@+-]{3,150}$")
HANDLE_RE = re.compile(r"^[^\W][\w.]{1,29}$")


def handle_key(*, handle: str) -> str:
    return lookalike_key(handle)


# Scripts whose letters look alike; one handle may use at most one of them, so
# "раураl" (Cyrillic р, а, у) cannot pass for "paypal".
CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def _mixes_confusable_scripts(text: str) -> bool:
    scripts = set()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            scripts.update(s for s in CONFUSABLE_SCRIPTS if name.startswith(s + " "))
    return len(scripts) > 1


def validate_handle(*, handle: str, exclude_profile_id: int | None = None) -> str:
    # NFC first: keyboards that send decomposed text (e + combining accent, conjoining
    # Hangul jamo) would otherwise fail the letters-only pattern.
    handle = unicodedata.normalize("NFC", handle.strip().lstrip("@"))
    if _mixes_confusable_scripts(handle):
        raise ValidationError(
            {"handle": _("Do not mix Latin, Cyrillic and Greek letters in one handle.")}
        )
    if not HANDLE_RE.fullmatch(handle) or len(handle_key(handle=handle)) > 30:
        raise ValidationError(
            {
                "handle": _(
                    "2–30 letters, digits, underscores or dots; start with a letter or digit."
                )
            }
        )
    taken = Profile.objects.filter(handle_key=handle_key(handle=handle))
    if exclude_profile_id:
        taken = taken.exclude(pk=exclude_profile_id)
    if taken.exists():
        raise ValidationError({"handle": _("This handle is taken.")})
    return handle


def _free_handle(base: str) -> str:
    base = re.sub(r"[^\w.]", "", unicodedata.normalize("NFC", base))[:24] or "user"
    if _mixes_confusable_scripts(base):
        base = "user"
    if not base[0].isalnum():
        base = "u" + base
    candidate, n = base, 1
    while Profile.objects.filter(handle_key=handle_key(handle=candidate)).exists():
        n += 1
        candidate = f"{base}{n}"
    return candidate


def register_user(
    *,
    username: str,
    password: str,
    email: str = "",
    display_name: str = "",
    locale: str = "",
    timezone: str = "UTC",
    currency: str = "",
    interest_slugs: list[str] | None = None,
) -> User:
    """Create an account, its profile and its first interests (all or nothing); raises
    ValidationError with field errors.

    The password is hashed before the transaction opens and holding no database
    connection (config/passwords.py), so a burst of sign-ups cannot empty the pool.
    """
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            {"username": _("3–150 characters: letters, digits and @/./+/-/_ only.")}
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This username is taken.")})
    email = _clean_email(email)
    timezone = validate_timezone(name=timezone or "UTC")
    currency = validate_user_currency(code=currency)
    user = User(
        username=username,
        email=email,
        locale=locale,
        timezone=timezone,
        currency=currency,
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    with transaction.atomic():
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise ValidationError({"username": _("This username is taken.")}) from exc
        handle = _free_handle(username)
        Profile.objects.create(
            user=user,
            handle=handle,
            handle_key=handle_key(handle=handle),
            display_name=(display_name or username)[:DISPLAY_NAME_MAX_LENGTH],
        )
        if interest_slugs:
            update_profile(user=user, interest_slugs=interest_slugs)
        if email:
            _queue_verification(user)
    return user


def validate_timezone(*, name: str) -> str:
    """An IANA time zone name zoneinfo knows (``Asia/Seoul``), else ValidationError."""
    try:
        if name not in VALID_TIMEZONES:
            raise ValueError(name)
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise ValidationError({"timezone": [_("Unknown time zone.")]}) from exc
    return name


def validate_user_currency(*, code: str) -> str:
    """ "" (follow the language) or a currency Moim takes, else ValidationError."""
    code = (code or "").strip().upper()
    if code and code not in settings.COMMERCE_CURRENCIES:
        raise ValidationError(
            {"currency": [_("Choose one of: %s") % ", ".join(settings.COMMERCE_CURRENCIES)]}
        )
    return code


def set_user_locale(*, user: User, locale: str) -> None:
    """Remember the interface language the user chose ("" follows the browser)."""
    if locale and locale not in dict(settings.LANGUAGES):
        raise ValidationError({"locale": _("Unsupported language.")})
    if user.locale != locale:
        user.locale = locale
        user.save(update_fields=["locale"])


# --- Passwords and sign-out -------------------------------------------------------------


def _credentials_changed(user: User) -> None:
    """Every refresh token of ``user`` is blacklisted. (Access tokens and sessions end by
    themselves: their credentials stamp and session hash no longer match.)"""

    revoke_refresh_tokens(user)


@transaction.atomic
def set_password(*, user: User, password: str) -> User:
    """A new password: every other session and every API token of the user ends now.

    The caller keeps its own web session with ``update_session_auth_hash`` or hands its
    API client a new token pair (``profiles.tokens.token_pair_for``)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    _credentials_changed(user)
    return user


@transaction.atomic
def log_out_everywhere(*, user: User) -> None:
    """End every session, API token and open socket of ``user``, this one included."""

    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    _credentials_changed(user)
    # No device of the user is pushed to any more (each registers again on log-in).
    remove_all_push_devices(user_id=user.pk)
    # The per-user socket (/ws/me/) and every room socket of the user close with 4401.
    events.send_on_commit(user_group(user_id=user.pk), events.session_revoked())
    events.send_on_commit(blocks_group_name(user.pk), events.session_revoked())


def forget_push_device(*, user_id: int, push_token: str) -> int:
    """A device logs out: its push target of this account is removed (another account's
    registration of the same token is not touched)."""
    return remove_push_devices(user_id=user_id, tokens=[push_token])


# --- Profile and preferences -------------------------------------------------------------

# Languages a person may say they speak: every language Django knows by name.
SPOKEN_LANGUAGE_CODES = frozenset(code for code, info in LANG_INFO.items() if "name" in info)
MAX_SPOKEN_LANGUAGES = 10
MAX_PROFILE_INTERESTS = 10
# Not places: the machine's own zone file ("localtime") and tzdata's helpers.
NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})
VALID_TIMEZONES = frozenset(name for name, _label in TIMEZONE_CHOICES if name not in NOT_PLACES)


def _clean_text(value: str, *, field: str, max_length: int, required: bool, errors: dict) -> str:
    value = value.strip()
    if required and not value:
        errors[field] = [_("This field is required.")]
    elif len(value) > max_length:
        errors[field] = [_("At most %(max)s characters.") % {"max": max_length}]
    return value


@transaction.atomic
def update_profile(
    *,
    user: User,
    handle: str | None = None,
    display_name: str | None = None,
    bio: str | None = None,
    status_message: str | None = None,
    interest_slugs: list[str] | None = None,
    languages: list[str] | None = None,
    locale: str | None = None,
    timezone: str | None = None,
    currency: str | None = None,
    discoverable: bool | None = None,
    avatar: UploadedFile | None = None,
    background: UploadedFile | None = None,
    remove_avatar: bool = False,
    remove_background: bool = False,
) -> Profile:
    """Change any of the given fields (``None`` leaves one as it is); ``remove_avatar``
    and ``remove_background`` take a picture off (a new upload wins over removing).

    Raises ValidationError with every field's message at once; nothing is written then.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    profile = Profile.objects.select_for_update().get(user=user)
    errors: dict[str, list[str]] = {}
    profile_fields: list[str] = []
    user_fields: list[str] = []

    if handle is not None and handle.strip().lstrip("@") != profile.handle:
        try:
            profile.handle = validate_handle(handle=handle, exclude_profile_id=profile.pk)
            profile.handle_key = handle_key(handle=profile.handle)
            profile_fields += ["handle", "handle_key"]
        except ValidationError as exc:
            errors.update(exc.message_dict)
    for field, value, max_length, required in [
        ("display_name", display_name, DISPLAY_NAME_MAX_LENGTH, True),
        ("bio", bio, BIO_MAX_LENGTH, False),
        ("status_message", status_message, STATUS_MESSAGE_MAX_LENGTH, False),
    ]:
        if value is not None:
            setattr(
                profile,
                field,
                _clean_text(
                    value, field=field, max_length=max_length, required=required, errors=errors
                ),
            )
            profile_fields.append(field)
    if discoverable is not None:
        profile.discoverable = bool(discoverable)
        profile_fields.append("discoverable")
    if languages is not None:
        codes = list(dict.fromkeys(code.strip().lower() for code in languages if code.strip()))
        unknown = [code for code in codes if code not in SPOKEN_LANGUAGE_CODES]
        if unknown:
            errors["languages"] = [
                _("Unknown language code: %(codes)s.") % {"codes": ", ".join(unknown)}
            ]
        elif len(codes) > MAX_SPOKEN_LANGUAGES:
            errors["languages"] = [_("At most %(max)s languages.") % {"max": MAX_SPOKEN_LANGUAGES}]
        profile.languages = codes
        profile_fields.append("languages")
    interests = None
    if interest_slugs is not None:
        slugs = list(dict.fromkeys(interest_slugs))
        interests = list(Interest.objects.filter(slug__in=slugs))
        if len(interests) != len(slugs):
            known = {interest.slug for interest in interests}
            errors["interests"] = [
                _("Unknown interest: %(slugs)s.")
                % {"slugs": ", ".join(s for s in slugs if s not in known)}
            ]
        elif len(slugs) > MAX_PROFILE_INTERESTS:
            errors["interests"] = [_("At most %(max)s interests.") % {"max": MAX_PROFILE_INTERESTS}]
    if locale is not None:
        if locale and locale not in dict(settings.LANGUAGES):
            errors["locale"] = [_("Unsupported language.")]
        user.locale = locale
        user_fields.append("locale")
    if timezone is not None:
        try:
            if timezone not in VALID_TIMEZONES:
                raise ValueError
            zoneinfo.ZoneInfo(timezone)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            errors["timezone"] = [_("Unknown time zone.")]
        user.timezone = timezone
        user_fields.append("timezone")
    if currency is not None:
        try:
            user.currency = validate_user_currency(code=currency)
            user_fields.append("currency")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    images = {
        target: upload
        for target, upload in [(MediaUse.AVATAR, avatar), (MediaUse.BACKGROUND, background)]
        if upload is not None
    }
    for field, upload in images.items():
        try:
            check_upload(file=upload, kinds=("image",))
        except DomainError as exc:
            errors[field] = [exc.message]
    if errors:
        raise ValidationError(errors)

    if profile_fields:
        try:
            with transaction.atomic():
                profile.save(update_fields=profile_fields)
        except IntegrityError as exc:  # a concurrent claim of the same handle
            raise ValidationError({"handle": [_("This handle is taken.")]}) from exc
    if user_fields:
        user.save(update_fields=user_fields)
    if interests is not None:
        profile.interests.set(interests)
    for target, upload in images.items():
        asset = upload_image_for(user=user, file=upload, target=target, field=target)
        setattr(profile, f"{target}_media", asset)
    removals = [(MediaUse.AVATAR, remove_avatar), (MediaUse.BACKGROUND, remove_background)]
    for target, remove in removals:
        field = f"{target}_media"
        if remove and target not in images and getattr(profile, f"{field}_id") is not None:
            removed_id = getattr(profile, f"{field}_id")
            setattr(profile, field, None)
            profile.save(update_fields=[field])
            release_media_asset(asset_id=removed_id)
    return profile


# --- Status posts ---------------------------------------------------------------------------


def _clean_post_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise DomainError(_("Write something."), fields={"body": [_("Required.")]})
    if len(body) > STATUS_POST_MAX_LENGTH:
        message = _("At most %(max)s characters.") % {"max": STATUS_POST_MAX_LENGTH}
        raise DomainError(message, fields={"body": [message]})
    return body


# Status posts per user per window, counted in the shared cache.
STATUS_POST_LIMIT = 20
STATUS_POST_WINDOW_SECONDS = 600


def _check_status_post_rate(author: User) -> None:
    posted = count_in_window(
        f"status-posts:{author.pk}", window=STATUS_POST_WINDOW_SECONDS, fixed=False
    )
    if posted.count > STATUS_POST_LIMIT:
        raise RateLimitedError(
            _("You are posting too often. Try again in a few minutes."),
            retry_after=STATUS_POST_WINDOW_SECONDS,
        )


@transaction.atomic
def create_status_post(*, author: User, body: str, image: UploadedFile | None = None) -> StatusPost:
    body = _clean_post_body(body)
    _check_status_post_rate(author)
    post = StatusPost.objects.create(author=author, body=body)
    if image is not None:  # a refused image rolls the post back too
        post.image_media = upload_image_for(
            user=author, file=image, target=MediaUse.STATUS_POST, target_id=post.pk, field="image"
        )
    return post


def _own_post_for_update(*, actor: User, post_id: int) -> StatusPost:
    post = StatusPost.objects.select_for_update().filter(pk=post_id).first()
    if post is None:
        raise NotFoundError(_("No such post."))
    if post.author_id != actor.pk and not actor.is_staff:
        raise PermissionDeniedError(_("Only the author can change this post."))
    return post


@transaction.atomic
def update_status_post(*, actor: User, post_id: int, body: str) -> StatusPost:
    post = _own_post_for_update(actor=actor, post_id=post_id)
    if post.author_id != actor.pk:
        raise PermissionDeniedError(_("Only the author can change this post."))
    post.body = _clean_post_body(body)
    post.save(update_fields=["body"])
    return post


@transaction.atomic
def delete_status_post(*, actor: User, post_id: int) -> None:
    """The author, or staff moderating, deletes a post and its image."""
    post = _own_post_for_update(actor=actor, post_id=post_id)
    image_id = post.image_media_id
    post.delete()
    release_media_asset(asset_id=image_id)


# --- Follows and blocks -----------------------------------------------------------------------


def _check_not_self(actor: User, target: User, message: str) -> None:
    if actor.pk == target.pk:
        raise UnprocessableError(message, code="self")


@transaction.atomic
def follow_user(*, follower: User, followee: User) -> Follow:
    """Follow ``followee`` (idempotent). Two follows in opposite directions make friends."""
    _check_not_self(follower, followee, _("You cannot follow yourself."))
    if not followee.is_active or Block.objects.filter(blocker=followee, blocked=follower).exists():
        raise NotFoundError(_("No such user."))
    if Block.objects.filter(blocker=follower, blocked=followee).exists():
        raise ConflictError(_("Unblock this user before following them."), code="blocked")
    follow, created = Follow.objects.get_or_create(follower=follower, followee=followee)
    if created:
        notify_new_follower(follower=follower, followed=followee)
    return follow


@transaction.atomic
def unfollow_user(*, follower: User, followee: User) -> None:
    Follow.objects.filter(follower=follower, followee=followee).delete()


@transaction.atomic
def block_user(*, blocker: User, blocked: User) -> Block:
    """Block ``blocked`` (idempotent) and end follows in both directions."""
    _check_not_self(blocker, blocked, _("You cannot block yourself."))
    block, created = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    Follow.objects.filter(follower=blocker, followee=blocked).delete()
    Follow.objects.filter(follower=blocked, followee=blocker).delete()
    if created:
        _broadcast_blocks_changed(blocker)
    return block


@transaction.atomic
def unblock_user(*, blocker: User, blocked: User) -> None:
    deleted, _rows = Block.objects.filter(blocker=blocker, blocked=blocked).delete()
    if deleted:
        _broadcast_blocks_changed(blocker)


def _broadcast_blocks_changed(blocker: User) -> None:
    """Tell the blocker's open sockets to reload whose messages they collapse."""

    events.send_on_commit(blocks_group_name(blocker.pk), events.blocks_reload())


# --- Deleting an account ----------------------------------------------------------------------

MESSAGES_ANONYMISE, MESSAGES_DELETE = "anonymise", "delete"


@transaction.atomic
def delete_account(*, user: User, password: str, messages: str) -> None:
    """The person deletes their own account, confirming with their password.

    ``messages``: ``anonymise`` keeps them under a neutral nickname, ``delete`` leaves
    tombstones. See :func:`do_delete_account`.
    """
    if messages not in (MESSAGES_ANONYMISE, MESSAGES_DELETE):
        raise DomainError(
            _("Choose whether to anonymise or delete your messages."),
            fields={"messages": [_("Choose “anonymise” or “delete”.")]},
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise NotFoundError(_("This account no longer exists."))
    if not user.check_password(password):
        raise PermissionDeniedError(_("Your password is not correct."), code="wrong_password")
    do_delete_account(user=user, delete_messages=messages == MESSAGES_DELETE)


@transaction.atomic
def delete_account_as_moderator(*, actor: User, user_id: int, delete_messages: bool) -> bool:
    """Staff remove an account (spam, a legal request). False if it was already gone."""
    if not actor.is_staff:
        raise PermissionDeniedError(_("Only moderators can delete other accounts."))
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None or not user.is_active:
        return False
    if user.pk == actor.pk or user.is_superuser:
        raise PermissionDeniedError(_("Moderators cannot delete their own or an admin's account."))
    do_delete_account(user=user, delete_messages=delete_messages)
    return True


def do_delete_account(*, user: User, delete_messages: bool) -> None:
    """Run every registered deletion hook, then turn the user row into a tombstone.

    The row stays, inactive and anonymous, so that rows other people and the books rely
    on (room messages, ledger entries) keep a valid author. Call inside a transaction
    with the user row locked.
    """

    run_deletion_hooks(user=user, delete_messages=delete_messages)
    user.username = f"~deleted-{user.pk}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.locale = ""
    user.set_unusable_password()  # also ends every other session (hash changes)
    user.save(
        update_fields=[
            "username",
            "email",
            "first_name",
            "last_name",
            "is_active",
            "is_staff",
            "is_superuser",
            "locale",
            "password",
        ]
    )


# --- Email address and account recovery ---------------------------------------------------


def _clean_email(email: str) -> str:
    from django.core.validators import validate_email

    email = User.objects.normalize_email((email or "").strip())
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ValidationError({"email": [_("Enter a valid email address.")]}) from exc
        if len(email) > User._meta.get_field("email").max_length:
            raise ValidationError({"email": [_("Enter a valid email address.")]})
    return email


def _queue_verification(user: User) -> None:
    user_id, email = user.pk, user.email
    transaction.on_commit(lambda: send_verification_email.delay(user_id, email))


@transaction.atomic
def change_email(*, user: User, email: str, ip: str) -> User:
    """A new address (or none): it starts unverified and gets a verification link.
    Counts toward the address's and the client's email limits (429 past them)."""

    email = _clean_email(email)
    user = User.objects.select_for_update().get(pk=user.pk)
    if email.casefold() == user.email.casefold():
        return user
    if email:
        recovery.check_send_limits(email=email, ip=ip)
    user.email, user.email_verified = email, False
    user.save(update_fields=["email", "email_verified"])
    if email:
        _queue_verification(user)
    return user


@transaction.atomic
def send_email_verification(*, user: User, ip: str) -> None:
    """Email a new verification link to the user's address."""

    user = User.objects.get(pk=user.pk)
    if not user.email:
        message = _("Add an email address first.")
        raise DomainError(message, code="no_email", fields={"email": [message]})
    if user.email_verified:
        raise ConflictError(_("Your email address is already verified."), code="already_verified")
    recovery.check_send_limits(email=user.email, ip=ip)
    _queue_verification(user)


@transaction.atomic
def verify_email(*, token: str) -> User:
    """Mark the address a verification link was sent to as verified (idempotent)."""

    parsed = recovery.read_verification_token(token or "")
    user = None
    if parsed is not None:
        user = User.objects.select_for_update().filter(pk=parsed[0], is_active=True).first()
    if user is None or not user.email or user.email.casefold() != parsed[1]:
        raise DomainError(
            _("This verification link is invalid or has expired. Ask for a new one."),
            code="invalid_token",
        )
    if not user.email_verified:
        user.email_verified = True
        user.save(update_fields=["email_verified"])
    return user


def request_password_reset(*, email: str, ip: str) -> None:
    """Email a reset link to the accounts using ``email``, if any. The caller answers the
    same either way; the limits count the address whether or not it is registered."""

    email = (email or "").strip()
    recovery.check_send_limits(email=email, ip=ip)
    send_password_reset_emails.delay(email)


@transaction.atomic
def reset_password_from_link(*, uid: str, token: str, password: str) -> User:
    """A new password with the ``uid`` and ``token`` of a reset link (the API's side of
    Django's own reset views): one answer for an unknown, inactive or mismatched
    account, so the endpoint tells nothing about who exists."""
    try:
        user_id = int(urlsafe_base64_decode(uid).decode())
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError):
        user_id = None
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or not default_token_generator.check_token(user, token):
        raise DomainError(
            _("This reset link is invalid or has expired. Ask for a new one."),
            code="invalid_token",
        )
    return reset_password(user=user, password=password)


def reset_password(*, user: User, password: str) -> User:
    """A new password from a reset link: as :func:`set_password` (every session and API
    token ends), and the address the link went to is verified."""
    user = set_password(user=user, password=password)
    if user.email and not user.email_verified:
        user.email_verified = True
        user.save(update_fields=["email_verified"])
    return user
