"""Keys for matching customers (RULEBOOK §4): pure functions, no I/O.

Two registrations name the same customer when their registrable domains match, or, with
no domain, when their normalised company names match. Beside those exact keys, two
*skeletons* find a probable same customer: one of the registrable domain's own label
(``example`` of ``example.de`` and of ``ехample.com`` with a Cyrillic ``е``), one of the
company name without regional or descriptive suffixes ("Acme (EMEA)", "Acme Holdings").
"""

import json
import re
import unicodedata
from functools import cache
from importlib import resources

import idna
from django.utils.translation import gettext_lazy as _
from publicsuffixlist import PublicSuffixList


class NotADomain(ValueError):
    """What was typed has no company domain in it (the message says why)."""


# ---------------------------------------------------------------- domains

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_HOST_END = re.compile(r"[/?#\\\s]")
# Control, format (zero-width space, soft hyphen, joiners, direction marks), private-use,
# surrogate and unassigned characters, and line or paragraph separators: nobody types them
# in a domain on purpose, and IDNA would silently drop some of them.
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


def _host(value: str) -> str:
    """The host part of a bare domain, URL or e-mail address, as typed (lower case)."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    without_scheme = _SCHEME.sub("", text)
    if without_scheme != text and without_scheme.startswith("/"):
        return ""  # "https:///path": a scheme and a path, no host
    text = without_scheme.removeprefix("//")
    text = _HOST_END.split(text, maxsplit=1)[0]
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    if text.startswith("["):
        return text  # an IPv6 address: refused by the caller
    text = text.split(":", 1)[0]
    return ".".join(label for label in text.split(".") if label)


def normalize_host(value: str | None) -> str:
    """``https://WWW.Acme.com/path`` → ``acme.com``: the host without ``www.``; never raises.

    Used for partners' own domains and applications, which name one site, not a customer.
    """
    if not value:
        return ""
    labels = _host(value).strip("[]").split(".")
    while len(labels) > 1 and labels[0] == "www":
        labels.pop(0)
    return ".".join(labels)


@cache
def _suffixes() -> PublicSuffixList:
    # The list ships inside the package (publicsuffixlist's own data file): no download.
    return PublicSuffixList()


def registrable_domain(value: str | None) -> str:
    """The customer's registrable domain, in its ASCII (``xn--``) form; ``""`` when blank.

    The host is taken from a bare domain, a URL or an e-mail address, mapped by IDNA
    (UTS #46, so ``BÜCHER.de`` and ``xn--bcher-kva.de`` are one domain) and cut by the
    Public Suffix List to the part a company registers: ``eu.example.com`` →
    ``example.com``; ``shop.example.co.uk`` → ``example.co.uk``.

    Raises ``NotADomain`` for anything else: invisible characters (a zero-width space),
    characters IDNA disallows, an IP address, a bare public suffix (``co.uk``).
    """
    if value is None or not value.strip():
        return ""
    text = value.strip()
    if any(unicodedata.category(ch) in _INVISIBLE for ch in text):
        raise NotADomain(_("it contains an invisible or control character"))
    host = _host(text)
    if not host:
        raise NotADomain(_("there is no domain in it"))
    try:
        ascii_host = idna.encode(host, uts46=True, std3_rules=True, transitional=False).decode()
    except (idna.IDNAError, UnicodeError) as exc:
        raise NotADomain(_("it has characters a domain cannot have")) from exc
    labels = ascii_host.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        raise NotADomain(_("a domain has a name and an ending, like example.com"))
    registrable = _suffixes().privatesuffix(ascii_host)
    if not registrable:
        raise NotADomain(_("it is only a domain ending, not a company's domain"))
    return registrable


def normalize_domain(value: str | None) -> str:
    """The registrable domain, or ``""`` when there is none; never raises.

    For keys computed on save: the services refuse a domain that is not one
    (``registrable_domain``) before anything is saved.
    """
    try:
        return registrable_domain(value)
    except NotADomain:
        return ""


def domain_label(domain_key: str) -> str:
    """The registrable domain's own label in Unicode: ``xn--bcher-kva.de`` → ``bücher``."""
    if not domain_key:
        return ""
    suffix = _suffixes().publicsuffix(domain_key) or ""
    label = domain_key[: -len(suffix) - 1] if suffix else domain_key
    try:
        return idna.decode(label)
    except (idna.IDNAError, UnicodeError):
        return label


# ---------------------------------------------------------------- company names

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

# Words after a company's name that say where or how big, not who: "Acme (EMEA)",
# "Acme Holdings", "Acme Deutschland". A name that differs from another only by these is
# probably the same customer (RULEBOOK §4). Words that describe a trade ("Logistics",
# "Foods", "Services") are not here: "Global Logistics" and "Global Foods" are two
# companies.
REGIONAL_SUFFIXES = (
    "emea",
    "apac",
    "apj",
    "amer",
    "americas",
    "latam",
    "na",
    "north america",
    "south america",
    "latin america",
    "europe",
    "eu",
    "asia",
    "asia pacific",
    "middle east",
    "africa",
    "nordics",
    "nordic",
    "dach",
    "benelux",
    "iberia",
    "anz",
    "uk",
    "us",
    "usa",
    "canada",
    "mexico",
    "brazil",
    "brasil",
    "germany",
    "deutschland",
    "france",
    "italy",
    "italia",
    "spain",
    "espana",
    "netherlands",
    "nederland",
    "belgium",
    "switzerland",
    "schweiz",
    "suisse",
    "austria",
    "osterreich",
    "ireland",
    "poland",
    "polska",
    "sweden",
    "sverige",
    "norway",
    "norge",
    "denmark",
    "danmark",
    "finland",
    "suomi",
    "japan",
    "china",
    "india",
    "singapore",
    "australia",
    "new zealand",
    "korea",
    "hong kong",
    "taiwan",
    "israel",
    "uae",
    "south africa",
)
DESCRIPTIVE_SUFFIXES = (
    "holdings",
    "holding",
    "group",
    "groupe",
    "gruppe",
    "international",
    "intl",
    "global",
    "worldwide",
    "enterprises",
    "companies",
)


def _suffix_pattern(words) -> re.Pattern:
    alternatives = "|".join(re.escape(s) for s in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:\s+(?:{alternatives}))+$")


_LEGAL_RE = _suffix_pattern(LEGAL_SUFFIXES)
_BASE_RE = _suffix_pattern(LEGAL_SUFFIXES + REGIONAL_SUFFIXES + DESCRIPTIVE_SUFFIXES)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SINGLE_LETTERS = re.compile(r"\b(?:[a-z] )+[a-z]\b")
# Latin letters with a diacritic that Unicode does not decompose.
_FOLD = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ŧ": "t"}
    | {"æ": "ae", "œ": "oe", "þ": "th", "ß": "ss"}
)


def normalize_company_name(value: str | None) -> str:
    """``"The ACME Café, Inc."`` → ``acme cafe``: case, diacritics, punctuation, a leading
    "The" and legal suffixes removed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.translate(_FOLD).replace("&", " and ")
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    text = " ".join(text.split())
    text = _SINGLE_LETTERS.sub(lambda match: match.group().replace(" ", ""), text)
    if text.startswith("the ") and text != "the ":
        text = text.removeprefix("the ")
    stripped = _LEGAL_RE.sub("", text).strip()
    # A name that is only a suffix ("Co") keeps its text rather than becoming empty.
    return stripped or text


def base_company_name(name_key: str) -> str:
    """A normalised name without regional or descriptive suffixes: ``acme holdings emea``
    → ``acme``. Keeps at least the first word."""
    return _BASE_RE.sub("", name_key).strip() or name_key


# ---------------------------------------------------------------- confusable characters


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character → the one string that stands for its class (Unicode TR39).

    Built from ``confusable_homoglyphs``' copy of Unicode's ``confusables.txt``, which lists
    each character's look-alikes in both directions. A class is a prototype with the
    characters that map to it: a connected component of that graph. Any one member per
    class gives equal skeletons exactly when TR39's would be; the member chosen is the
    prototype where it can be told (a sequence such as ``rn``, or the member most others
    map to), else the lowest code point, which is the Latin letter for the classes that
    matter here.
    """
    data_file = resources.files("confusable_homoglyphs").joinpath("confusables.json")
    data = json.loads(data_file.read_text(encoding="utf-8"))
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    degree: dict[str, int] = {}
    for key, glyphs in data.items():
        key = key.replace("\u200e", "")
        for glyph in glyphs:
            other = glyph["c"].replace("\u200e", "")
            if not key or not other:
                continue
            degree[key] = degree.get(key, 0) + 1
            parent[find(key)] = find(other)
    classes: dict[str, list[str]] = {}
    for node in list(parent):
        classes.setdefault(find(node), []).append(node)
    table = {}
    for members in classes.values():
        sequences = [m for m in members if len(m) > 1]
        if sequences:
            prototype = min(sequences)
        else:
            prototype = min(members, key=lambda m: (-degree.get(m, 0), ord(m)))
        table.update({m: prototype for m in members if len(m) == 1 and m != prototype})
    return table


def skeleton(text: str) -> str:
    """The TR39 skeleton, case-folded: two strings that look alike share it
    (``раypal`` with Cyrillic letters and ``paypal``; ``examp1e`` and ``example``)."""
    if not text:
        return ""
    table = _prototypes()
    mapped = unicodedata.normalize("NFD", text)
    for _pass in range(2):  # a prototype sequence's own letters map to their prototypes
        mapped = "".join(table.get(ch, ch) for ch in mapped)
    return unicodedata.normalize("NFD", mapped).casefold()


def domain_skeleton(domain_key: str) -> str:
    """What a probable same customer's domain shares: the skeleton of the registrable
    domain's own label, whatever its public suffix (``example.de``, ``ехample.com``)."""
    return skeleton(domain_label(domain_key))


def name_skeleton(name_key: str) -> str:
    """What a probable same customer's name shares: the skeleton of the name without
    regional or descriptive suffixes (``Acme (EMEA)``, ``Аcme Holdings``)."""
    return skeleton(base_company_name(name_key))
