"""Forms for the room pages. They only validate shape; the room services decide."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from community.rooms.models import NICKNAME_MAX_LENGTH, Interest, Membership, Room
from community.rooms.selectors import discovery_languages
from config.errors import DomainError


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error in place: on its fields when it names them, else on top."""
    placed = False
    for field, messages in (error.fields or {}).items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, str(message))
            placed = True
    if not placed or error.message:
        form.add_error(None, error.message)


class RoomForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=80)
    description = forms.CharField(
        label=_("Description"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    # A FileField: the media pipeline sniffs the bytes and decides (HEIC, AVIF too).
    cover = forms.FileField(label=_("Cover image"), required=False)
    language = forms.ChoiceField(label=_("Language"), choices=discovery_languages)
    interests = forms.ModelMultipleChoiceField(
        label=_("Interests"),
        queryset=Interest.objects.order_by("slug"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Up to five."),
    )
    hashtags = forms.CharField(
        label=_("Hashtags"),
        required=False,
        max_length=400,
        help_text=_("Separated by spaces or commas, e.g. #vinyl #bebop"),
    )
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Room.Visibility.choices)
    join_policy = forms.ChoiceField(label=_("Who can join"), choices=Room.JoinPolicy.choices)
    password = forms.CharField(
        label=_("Room password"),
        required=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Only for password rooms. Leave empty to keep the current one."),
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=2,
        max_value=settings.ROOM_MAX_CAPACITY,
        initial=settings.ROOM_DEFAULT_CAPACITY,
    )
    slow_mode_seconds = forms.IntegerField(
        label=_("Slow mode (seconds between messages)"), min_value=0, max_value=3600, initial=0
    )
    is_web_public = forms.BooleanField(
        label=_("Readable without an account (public rooms only)"), required=False
    )

    def clean_interests(self):
        interests = list(self.cleaned_data["interests"])
        if len(interests) > 5:
            raise forms.ValidationError(_("Choose up to five interests."))
        return interests

    def clean_hashtags(self):
        raw = self.cleaned_data["hashtags"].replace(",", " ")
        return [word for word in raw.split() if word.strip("#")]

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        if not data.get("cover"):
            data.pop("cover", None)
        if not data.get("password"):
            data.pop("password", None)
        return data


class CreateRoomForm(RoomForm):
    nickname = forms.CharField(
        label=_("Your nickname in this room"),
        max_length=NICKNAME_MAX_LENGTH,
        help_text=_("Others in the room see only this, never your main profile."),
    )
    field_order = ["title", "nickname"]


class JoinForm(forms.Form):
    nickname = forms.CharField(
        label=_("Your nickname in this room"),
        max_length=NICKNAME_MAX_LENGTH,
        help_text=_("Others see this nickname, not your main profile."),
    )
    is_open_profile = forms.BooleanField(
        label=_("Keep my main profile hidden (open profile)"), required=False, initial=True
    )
    password = forms.CharField(
        label=_("Room password"), required=False, widget=forms.PasswordInput, max_length=128
    )
    message = forms.CharField(
        label=_("A note to the hosts"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    invite_code = forms.CharField(required=False, widget=forms.HiddenInput, max_length=32)

    def __init__(self, *args, room: Room, has_invite: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if room.join_policy != Room.JoinPolicy.PASSWORD or has_invite:
            del self.fields["password"]
        if room.join_policy != Room.JoinPolicy.APPROVAL:
            del self.fields["message"]


class LeaveForm(forms.Form):
    successor = forms.ModelChoiceField(
        label=_("Hand the room over to"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("(nobody)"),
    )
    archive = forms.BooleanField(label=_("Archive the room instead"), required=False)

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        if members is None:
            del self.fields["successor"]
            del self.fields["archive"]
        else:
            self.fields["successor"].queryset = members
            self.fields["successor"].label_from_instance = lambda m: m.nickname


class MyMembershipForm(forms.Form):
    nickname = forms.CharField(label=_("Nickname"), max_length=NICKNAME_MAX_LENGTH)
    is_open_profile = forms.BooleanField(
        label=_("Keep my main profile hidden (open profile)"), required=False
    )
    avatar = forms.FileField(label=_("Room avatar"), required=False)
    remove_avatar = forms.BooleanField(label=_("Remove my room avatar"), required=False)

    def __init__(self, *args, membership=None, **kwargs):
        super().__init__(*args, **kwargs)
        if membership is None or membership.avatar_media_id is None:
            del self.fields["remove_avatar"]  # nothing to remove
