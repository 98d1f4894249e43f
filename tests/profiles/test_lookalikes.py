"""Handles and hashtags: look-alikes (width, compatibility forms, case, invisible
characters, Cyrillic/Greek letters that render as Latin) collide; real scripts work."""

import pytest
from django.core.exceptions import ValidationError

from profiles.models import Profile
from profiles.services import validate_handle
from profiles.text import fold, lookalike_key


@pytest.fixture
def taken(make_user):
    user = make_user("alice")
    assert Profile.objects.get(user=user).handle == "alice"
    return user


@pytest.mark.parametrize(
    "lookalike",
    [
        "ALICE",  # case
        "Ａｌｉｃｅ",  # full-width
        "ａｌｉｃｅ",
        "@alice",
    ],
)
def test_lookalike_handles_are_refused(taken, lookalike):
    with pytest.raises(ValidationError) as info:
        validate_handle(handle=lookalike)
    assert info.value.message_dict["handle"] == ["This handle is taken."]


@pytest.mark.parametrize("mixed", ["\u0430lice", "alic\u0435", "\u0391LICE"])
def test_handles_mixing_latin_with_cyrillic_or_greek_are_refused(taken, mixed):
    with pytest.raises(ValidationError) as info:
        validate_handle(handle=mixed)
    assert "handle" in info.value.message_dict


def test_all_cyrillic_lookalike_of_a_latin_handle_is_taken(make_user):
    make_user("cop")  # Latin handle "cop"
    with pytest.raises(ValidationError) as info:
        validate_handle(handle="\u0441\u043e\u0440")  # Cyrillic с, о, р
    assert info.value.message_dict["handle"] == ["This handle is taken."]
    assert validate_handle(handle="\u043c\u0438\u0440") == "мир"  # a real Russian word is fine


def test_invisible_characters_are_refused_in_handles(taken):
    with pytest.raises(ValidationError):
        validate_handle(handle="ali\u200bce")


@pytest.mark.parametrize("handle", ["민지", "さくら", "桜子", "ليلى", "דנה", "alice2"])
def test_handles_in_any_script_are_accepted(taken, handle):
    assert validate_handle(handle=handle) == handle


def test_compatibility_forms_fold():
    assert fold("ﬁle") == fold("file")  # ligature
    assert fold("㍿") == fold("株式会社")  # squared CJK
    assert fold("ｶﾀｶﾅ") == fold("カタカナ")  # half-width kana
    assert fold("Straße") == fold("STRASSE")
    assert fold("jazz\ufe0f\u200d") == "jazz"
    assert lookalike_key("раураl") == "paypal"  # all-Cyrillic look-alike


def test_lookalike_hashtags_collide(make_room):
    room = make_room(hashtags=["#Jazz", "＃ｊａｚｚ", "JAZZ", "j\u0430zz", "재즈", "ジャズ"])
    labels = sorted(tag.label for tag in room.hashtags.all())
    assert labels == sorted(["Jazz", "재즈", "ジャズ"])
    other = make_room(hashtags=["ＪＡＺＺ"])
    assert list(other.hashtags.all()) == [tag for tag in room.hashtags.all() if tag.label == "Jazz"]
