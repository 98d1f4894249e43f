from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from config.errors import RateLimitedError
from profiles import services


class SignUpForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("Email (optional)"), required=False)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)

    def save(self, *, locale: str = ""):
        try:
            return services.register_user(
                username=self.cleaned_data["username"],
                password=self.cleaned_data["password"],
                email=self.cleaned_data.get("email") or "",
                locale=locale,
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return None


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's log-in form, refusing further tries after repeated failures."""

    def clean(self):
        username = self.data.get("username", "")
        ip = services.client_ip(self.request)
        try:
            services.check_login_allowed(username=username, ip=ip)
        except RateLimitedError as exc:
            raise ValidationError(exc.message, code="throttled") from exc
        try:
            cleaned = super().clean()
        except ValidationError:
            services.record_login_failure(username=username, ip=ip)
            raise
        services.clear_login_failures(username=username, ip=ip)
        return cleaned
