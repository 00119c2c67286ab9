"""Normalised keys for matching customers: pure functions, no I/O.

Two registrations name the same customer when their normalised domains match, or, with
no domain, when their normalised company names match (RULEBOOK §4).
"""

import re
import unicodedata

# Legal-form suffixes removed from the end of a company name. Compared after punctuation
# is stripped and dotted abbreviations are joined ("L.L.C." → "llc", "S.A." → "sa").
LEGAL_SUFFIXES = (
    "incorporated",
    "corporation",
    "limited",
    "company",
    "gmbh",
    "and co kg",
    "and co",
    "co kg",
    "co ltd",
    "pty ltd",
    "pvt ltd",
    "sarl",
    "corp",
    "inc",
    "llc",
    "llp",
    "ltd",
    "plc",
    "kg",
    "bv",
    "nv",
    "ag",
    "sa",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
    "kk",
    "co",
)
_SUFFIX_RE = re.compile(
    r"(?:\s+(?:"
    + "|".join(re.escape(s) for s in sorted(LEGAL_SUFFIXES, key=len, reverse=True))
    + r"))+$"
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SINGLE_LETTERS = re.compile(r"\b(?:[a-z] )+[a-z]\b")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_HOST_END = re.compile(r"[/?#\\\s]")


def normalize_domain(value: str | None) -> str:
    """``https://WWW.Acme.com/path`` → ``acme.com``; also accepts e-mail addresses.

    Never raises: whatever a person typed gives a key (possibly empty).
    """
    if not value:
        return ""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    without_scheme = _SCHEME.sub("", text)
    if without_scheme != text and without_scheme.startswith("/"):
        return ""  # "https:///path": a scheme and a path, no host
    text = without_scheme.removeprefix("//")
    text = _HOST_END.split(text, maxsplit=1)[0]
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    text = text.split(":", 1)[0].strip("[]")
    labels = [label for label in text.split(".") if label]
    while len(labels) > 1 and labels[0] == "www":
        labels.pop(0)
    return ".".join(labels)


def normalize_company_name(value: str | None) -> str:
    """``"ACME, Inc."`` → ``acme``: case, accents, punctuation and legal suffixes removed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ")
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    text = " ".join(text.split())
    text = _SINGLE_LETTERS.sub(lambda match: match.group().replace(" ", ""), text)
    stripped = _SUFFIX_RE.sub("", text).strip()
    # A name that is only a suffix ("Co") keeps its text rather than becoming empty.
    return stripped or text
