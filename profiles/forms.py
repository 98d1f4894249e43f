from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext_lazy as _

from community.rooms.models import Interest
from config.errors import RateLimitedError
from profiles import login_policy, services
from profiles.models import (
    BIO_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    STATUS_MESSAGE_MAX_LENGTH,
    STATUS_POST_MAX_LENGTH,
    TIMEZONE_CHOICES,
)


def _currency_choices():
    from django.conf import settings

    return [(code, code) for code in settings.COMMERCE_CURRENCIES]


class SignUpForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(
        label=_("Email (optional)"),
        required=False,
        help_text=_("The only way back in if you forget your password."),
    )
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    currency = forms.ChoiceField(
        label=_("Your currency"),
        choices=_currency_choices,
        required=False,
        help_text=_("For top-ups and tips. You can change it in your settings."),
    )
    # Filled in by static/js/locale.js from the browser (Intl); checked against zoneinfo.
    timezone = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.HiddenInput(attrs={"data-browser-timezone": ""}),
    )
    interests = forms.ModelMultipleChoiceField(
        label=_("Interests"),
        help_text=_("Pick a few: they fill your “For you” rooms. You can change them later."),
        queryset=None,
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs):

        super().__init__(*args, **kwargs)
        self.fields["interests"].queryset = Interest.objects.order_by("slug")

    def clean_timezone(self) -> str:
        """The browser's zone if zoneinfo knows it, else "" (the caller falls back)."""
        name = (self.cleaned_data.get("timezone") or "").strip()
        try:
            return services.validate_timezone(name=name) if name else ""
        except ValidationError:
            return ""

    def save(self, *, locale: str = "", fallback_timezone: str = "UTC", fallback_currency=""):
        try:
            # The account and its first interests are one step: both or neither.
            return services.register_user(
                username=self.cleaned_data["username"],
                password=self.cleaned_data["password"],
                email=self.cleaned_data.get("email") or "",
                locale=locale,
                timezone=self.cleaned_data.get("timezone") or fallback_timezone,
                currency=self.cleaned_data.get("currency") or fallback_currency,
                interest_slugs=[i.slug for i in self.cleaned_data.get("interests") or []],
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return None


def add_validation_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's field errors next to the matching form fields."""
    for field, messages in exc.message_dict.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def _spoken_language_choices() -> list[tuple[str, str]]:
    """Each language by its own name, then by its name in the reader's language:
    "Deutsch (독일어)" on a Korean page."""
    from django.conf.locale import LANG_INFO

    def label(code: str, info: dict) -> str:
        translated = str(get_language_info(code)["name_translated"])
        # Django's catalogs leave a few names untranslated: then the own name alone.
        if translated == info["name_local"] or (
            translated == info["name"] and not (get_language() or "en").startswith("en")
        ):
            return info["name_local"]
        return f"{info['name_local']} ({translated})"

    return sorted(
        ((code, label(code, info)) for code, info in LANG_INFO.items() if "name" in info),
        key=lambda choice: choice[1].casefold(),
    )


class ProfileForm(forms.Form):
    handle = forms.CharField(
        label=_("Handle"),
        max_length=30,
        help_text=_("Your address: letters (any language), digits, _ and ."),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=DISPLAY_NAME_MAX_LENGTH)
    bio = forms.CharField(
        label=_("Bio"),
        max_length=BIO_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    status_message = forms.CharField(
        label=_("Status message"), max_length=STATUS_MESSAGE_MAX_LENGTH, required=False
    )
    interests = forms.ModelMultipleChoiceField(
        label=_("Interests"),
        queryset=None,
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    languages = forms.MultipleChoiceField(label=_("Languages I speak"), choices=(), required=False)
    # The media pipeline sniffs the bytes and keeps only renditions without EXIF/GPS.
    avatar = forms.FileField(label=_("Avatar"), required=False)
    remove_avatar = forms.BooleanField(label=_("Remove my avatar"), required=False)
    background = forms.FileField(label=_("Background image"), required=False)
    remove_background = forms.BooleanField(label=_("Remove my background image"), required=False)

    def __init__(self, *args, profile=None, **kwargs):

        super().__init__(*args, **kwargs)
        self.fields["interests"].queryset = Interest.objects.order_by("slug")
        self.fields["languages"].choices = _spoken_language_choices()
        # "Remove" only where there is a picture to remove.
        for picture in ("avatar", "background"):
            if profile is None or getattr(profile, f"{picture}_media_id") is None:
                del self.fields[f"remove_{picture}"]

    @classmethod
    def initial_for(cls, profile) -> dict:
        return {
            "handle": profile.handle,
            "display_name": profile.display_name,
            "bio": profile.bio,
            "status_message": profile.status_message,
            "interests": [interest.slug for interest in profile.interests.all()],
            "languages": profile.languages,
        }

    def save(self, *, user) -> bool:
        data = self.cleaned_data
        try:
            services.update_profile(
                user=user,
                handle=data["handle"],
                display_name=data["display_name"],
                bio=data["bio"],
                status_message=data["status_message"],
                interest_slugs=[interest.slug for interest in data["interests"]],
                languages=data["languages"],
                avatar=data.get("avatar"),
                background=data.get("background"),
                remove_avatar=data.get("remove_avatar", False),
                remove_background=data.get("remove_background", False),
            )
        except ValidationError as exc:
            add_validation_errors(self, exc)
            return False
        return True


class PreferencesForm(forms.Form):
    locale = forms.ChoiceField(label=_("Language"), required=False)
    # Time zone identifiers (Asia/Seoul) are the same in every language.
    timezone = forms.ChoiceField(
        label=_("Time zone"), widget=forms.Select(attrs={"translate": "no"})
    )
    currency = forms.ChoiceField(
        label=_("Currency"),
        choices=_currency_choices,
        required=False,
        help_text=_("Top-ups and tips start in this currency."),
    )
    discoverable = forms.BooleanField(
        label=_("Show me in people search and suggestions"),
        required=False,
        help_text=_("Off: people reach your profile only through its address."),
    )

    def __init__(self, *args, **kwargs):
        from django.conf import settings

        super().__init__(*args, **kwargs)
        self.fields["locale"].choices = [("", _("Follow my browser")), *settings.LANGUAGES]
        self.fields["timezone"].choices = TIMEZONE_CHOICES

    def save(self, *, user) -> bool:
        try:
            services.update_profile(
                user=user,
                locale=self.cleaned_data["locale"],
                timezone=self.cleaned_data["timezone"],
                currency=self.cleaned_data.get("currency") or None,
                discoverable=self.cleaned_data["discoverable"],
            )
        except ValidationError as exc:
            add_validation_errors(self, exc)
            return False
        return True


class StatusPostForm(forms.Form):
    body = forms.CharField(
        label=_("What's new?"),
        max_length=STATUS_POST_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # The media pipeline sniffs the bytes; the declared type is not trusted.
    image = forms.FileField(label=_("Image (optional)"), required=False)


class DeleteAccountForm(forms.Form):
    messages = forms.ChoiceField(
        label=_("My messages in rooms"),
        choices=[
            (services.MESSAGES_ANONYMISE, _("Keep them, shown as “Deleted member”")),
            (services.MESSAGES_DELETE, _("Delete them")),
        ],
        widget=forms.RadioSelect,
        initial=services.MESSAGES_ANONYMISE,
    )
    password = forms.CharField(
        label=_("Your password, to confirm"), widget=forms.PasswordInput, strip=False
    )


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form; a wrong current password counts toward the log-in lockout."""

    def __init__(self, user, *args, request=None, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        try:
            correct = login_policy.check_current_password(self.request, self.user, old_password)
        except RateLimitedError as exc:
            raise ValidationError(exc.message, code="locked_out") from exc
        if not correct:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class EmailForm(forms.Form):
    """A new email address, confirmed with the current password (a stolen session must
    not be able to point password resets at another mailbox)."""

    email = forms.EmailField(label=_("Email address"), required=False)
    password = forms.CharField(
        label=_("Your password, to confirm"), widget=forms.PasswordInput, strip=False
    )

    def __init__(self, *args, user=None, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.request = user, request

    def clean_password(self):
        password = self.cleaned_data["password"]
        try:
            correct = login_policy.check_current_password(self.request, self.user, password)
        except RateLimitedError as exc:
            raise ValidationError(exc.message, code="locked_out") from exc
        if not correct:
            raise ValidationError(_("Your password was entered incorrectly."), code="wrong")
        return password


class PasswordResetRequestForm(auth_forms.PasswordResetForm):
    """Django's form, sending through ``services.request_password_reset`` (a worker
    sends the emails, in each person's language; the same answer whether or not an
    account uses the address)."""

    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def save(self, *, request=None, **kwargs):
        services.request_password_reset(
            email=self.cleaned_data["email"], ip=services.client_ip(request)
        )


class SetPasswordForm(auth_forms.SetPasswordForm):
    """Django's form for the reset link; the new password goes through
    ``services.reset_password`` (every session and API token ends, the address is
    verified)."""

    def save(self, commit=True):
        return services.reset_password(user=self.user, password=self.cleaned_data["new_password1"])
