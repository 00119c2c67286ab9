"""Normalised keys for matching customers: pure functions, no I/O.

Two registrations name the same customer when their normalised domains match, or, with
no domain, when their normalised company names match (RULEBOOK §4).
"""

import re
import unicodedata
from urllib.parse import urlsplit

# Legal-form suffixes removed from the end of a company name, longest first so
# "co ltd" goes before "ltd". Compared after punctuation is stripped.
LEGAL_SUFFIXES = (
    "incorporated",
    "corporation",
    "limited",
    "company",
    "gmbh",
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
_SUFFIX_RE = re.compile(r"(?:\s+(?:" + "|".join(re.escape(s) for s in LEGAL_SUFFIXES) + r"))+$")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalize_domain(value: str | None) -> str:
    """``https://WWW.Acme.com/path`` → ``acme.com``; also accepts e-mail addresses."""
    if not value:
        return ""
    text = value.strip().lower()
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    if "://" not in text:
        text = "//" + text
    host = urlsplit(text).hostname or ""
    host = host.strip(".")
    if host.startswith("www."):
        host = host[4:]
    return host


def normalize_company_name(value: str | None) -> str:
    """``"ACME, Inc."`` → ``acme``: case, accents, punctuation and legal suffixes removed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ")
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    text = " ".join(text.split())
    stripped = _SUFFIX_RE.sub("", text).strip()
    # A name that is only a suffix ("Co") keeps its text rather than becoming empty.
    return stripped or text
