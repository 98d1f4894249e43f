"""Korean particles (조사) chosen by the word before them.

Korean catalog strings write a particle that depends on the preceding word in the
bracket form translators know, ``%(nickname)s(으)로`` or ``%(name)s이(가)``; once the
placeholder is filled, :func:`resolve_particles` picks the form the final syllable
takes (민지로, 하늘으로 → 하늘로 for ㄹ, 준석으로). Words that do not end in Hangul or a
digit keep the bracket form, the convention Korean readers expect for foreign names.
"""

import re

# Bracket forms as translators write them: (with a final consonant, without one).
_PAIRS = {
    "이(가)": ("이", "가"),
    "가(이)": ("이", "가"),
    "을(를)": ("을", "를"),
    "를(을)": ("을", "를"),
    "은(는)": ("은", "는"),
    "는(은)": ("은", "는"),
    "과(와)": ("과", "와"),
    "와(과)": ("과", "와"),
    "(으)로": ("으로", "로"),
    "(이)라고": ("이라고", "라고"),
    "(이)에요": ("이에요", "예요"),
}
# The word's last character, then any closing quotes or brackets, then the particle.
_CLOSING = "”’\"'»」』)]"
_PATTERN = re.compile(
    rf"([^\s{re.escape(_CLOSING)}])([{re.escape(_CLOSING)}]*)("
    + "|".join(re.escape(form) for form in _PAIRS)
    + ")"
)
# How each digit is read out (Sino-Korean): whether the reading ends in a consonant,
# and whether that consonant is ㄹ (일, 칠, 팔 take 로, not 으로).
_DIGIT_FINAL = {"0": "ㅇ", "1": "ㄹ", "2": "", "3": "ㅁ", "4": "", "5": "", "6": "ㄱ", "7": "ㄹ"}
_DIGIT_FINAL |= {"8": "ㄹ", "9": ""}
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # the index of ㄹ among the final consonants


def final_consonant(char: str) -> str | None:
    """``"ㄹ"`` for a final ㄹ, ``"C"`` for any other final consonant, ``""`` for none,
    and None when the character is neither a Hangul syllable nor a digit."""
    if char in _DIGIT_FINAL:
        final = _DIGIT_FINAL[char]
        return "ㄹ" if final == "ㄹ" else ("C" if final else "")
    code = ord(char)
    if not _HANGUL_FIRST <= code <= _HANGUL_LAST:
        return None
    jong = (code - _HANGUL_FIRST) % 28
    if jong == 0:
        return ""
    return "ㄹ" if jong == _RIEUL else "C"


def particle_for(word: str, form: str) -> str:
    """The particle ``form`` (a bracket form such as ``"(으)로"``) fits after ``word``."""
    with_final, without_final = _PAIRS[form]
    final = final_consonant(word[-1]) if word else None
    if final is None:
        return form
    if form == "(으)로" and final == "ㄹ":
        return without_final
    return with_final if final else without_final


def resolve_particles(text: str) -> str:
    """``text`` with every bracket-form particle replaced by the form its word takes."""
    return _PATTERN.sub(
        lambda m: m.group(1) + m.group(2) + particle_for(m.group(1), m.group(3)), text
    )
