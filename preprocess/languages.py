"""Language tags: normalise the given ones and compare them with fastText's labels."""

import re
from typing import Iterable, List, Optional

# lid.176 labels Norwegian Bokmål "no"; compare "nb" documents with that label.
LID_BASE_ALIASES = {"nb": "no"}
UNDETERMINED = "und"


def subtags(tag: str) -> List[str]:
    """``de-1996|deu_1996`` -> ``["de", "1996"]``: the subtags of the BCP 47 part."""
    return re.split(r"[-_]", tag.split("|")[0].strip())


def language_subtag(tag: str) -> str:
    return subtags(tag)[0].lower()


def normalise_tag(tag: str) -> Optional[str]:
    """The language, script and region of a BCP 47 tag; ``None`` if it names no language.

    ``de-1996|deu_1996`` (a UDHR tag: BCP 47 tag, then the UDHR code) -> ``de``;
    ``pt_br`` -> ``pt-BR``; ``zh-hant-tw`` -> ``zh-Hant-TW``; ``ca-valencia`` -> ``ca``.
    Variants and extensions are dropped: they would make separate language tokens for texts
    that language ID cannot tell apart. ``und`` (undetermined) is no language.
    """
    language = language_subtag(tag)
    is_code = language.isascii() and language.isalpha() and 2 <= len(language) <= 3
    if not is_code or language == UNDETERMINED:
        return None
    kept = [language]
    for subtag in subtags(tag)[1:]:
        if len(subtag) == 4 and subtag.isalpha():
            kept.append(subtag.title())  # script
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            kept.append(subtag.upper())  # region
        else:
            break
    return "-".join(kept)


def base_language(tag: str) -> str:
    """``pt-BR`` -> ``pt``: what fastText's labels can be compared with."""
    base = tag.split("-")[0]
    return LID_BASE_ALIASES.get(base, base)


def select_language(tag: str, langs: Iterable[str]) -> Optional[str]:
    """The entry of ``langs`` that ``tag`` belongs to: ``tag`` itself, else its base
    language (``--langs de`` keeps ``de-AT`` as ``de``); ``None`` if neither is listed."""
    if tag in langs:
        return tag
    base = tag.split("-")[0]
    return base if base in langs else None
