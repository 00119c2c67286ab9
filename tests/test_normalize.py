"""Normalised matching keys for customers (RULEBOOK §4), as specs of prm.normalize.

A normalised domain is lower-case, without ``www.``, scheme, port, user or path; a
normalised company name is without case, accents, punctuation or legal suffixes.
Pure functions: no database.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prm.normalize import LEGAL_SUFFIXES, normalize_company_name, normalize_domain

# Modest example counts keep the suite fast; no example database, so nothing is written.
PROPERTY = settings(max_examples=200, database=None, deadline=None)


# ------------------------------------------------------------------ normalize_domain


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_missing_domain_normalises_to_empty_string(empty):
    assert normalize_domain(empty) == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("ACME.COM", "acme.com"),
        ("Acme.Com", "acme.com"),
        ("  acme.com  ", "acme.com"),
        ("\tacme.com\n", "acme.com"),
    ],
)
def test_domain_is_lower_cased_and_trimmed(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("www.acme.com", "acme.com"),
        ("WWW.Acme.com", "acme.com"),
        ("http://acme.com", "acme.com"),
        ("https://acme.com", "acme.com"),
        ("https://www.acme.com", "acme.com"),
        ("https://WWW.Acme.com/path", "acme.com"),
        ("ftp://www.acme.com", "acme.com"),
        ("HTTPS://WWW.ACME.COM/", "acme.com"),
    ],
)
def test_www_and_scheme_are_removed(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com/", "acme.com"),
        ("acme.com/about/team", "acme.com"),
        ("acme.com?ref=partner", "acme.com"),
        ("acme.com#contact", "acme.com"),
        ("https://acme.com/path?q=1#frag", "acme.com"),
        ("acme.com:8080", "acme.com"),
        ("https://www.acme.com:443/login", "acme.com"),
    ],
)
def test_path_query_fragment_and_port_are_removed(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("bob@acme.com", "acme.com"),
        ("Bob.Smith@Acme.COM", "acme.com"),
        ("bob@www.acme.com", "acme.com"),
        ("mailto:bob@acme.com", "acme.com"),
        ("weird@name@acme.com", "acme.com"),
        ("http://user:secret@acme.com/x", "acme.com"),
    ],
)
def test_email_address_and_user_info_give_the_host(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com.", "acme.com"),
        ("www.acme.com.", "acme.com"),
        (".acme.com", "acme.com"),
    ],
)
def test_leading_and_trailing_dots_are_removed(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sub.acme.com", "sub.acme.com"),
        ("eu.shop.acme.co.uk", "eu.shop.acme.co.uk"),
        ("sub.www.acme.com", "sub.www.acme.com"),
        ("wwwacme.com", "wwwacme.com"),
        ("www2.acme.com", "www2.acme.com"),
        ("www", "www"),
    ],
)
def test_only_a_leading_www_label_is_removed(raw, expected):
    assert normalize_domain(raw) == expected


def test_spellings_of_one_customer_share_one_domain_key():
    spellings = [
        "acme.com",
        "ACME.com",
        "www.acme.com",
        "https://www.acme.com/",
        "http://acme.com/products?id=3",
        "sales@acme.com",
        "acme.com.",
    ]
    assert {normalize_domain(s) for s in spellings} == {"acme.com"}


def test_unicode_domain_is_lower_cased_not_punycoded():
    assert normalize_domain("https://www.BÜCHER.de/") == "bücher.de"


@pytest.mark.parametrize("raw", [".", "@", "bob@", "https://", "https:///path"])
def test_input_without_a_host_normalises_to_empty_string(raw):
    assert normalize_domain(raw) == ""


_LABEL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=12,
)
# A label "www" is left out here: "www.www.x" is one of the known failures below.
_LABEL = _LABEL.filter(lambda label: label.lower() != "www")


@st.composite
def domain_like(draw):
    """Domains as partners type them: scheme, www., user, port, path and case all optional."""
    host = ".".join(draw(st.lists(_LABEL, min_size=1, max_size=4)))
    text = draw(st.sampled_from(["", "www.", "WWW."])) + host
    text += draw(st.sampled_from(["", "."]))
    text += draw(st.sampled_from(["", ":8080", ":443"]))
    text += draw(st.sampled_from(["", "/", "/path", "/a/b?q=1", "#frag", "?ref=x"]))
    if draw(st.booleans()):
        text = draw(st.sampled_from(["bob@", "Sales.Team@"])) + text.split("/")[0].split(":")[0]
    else:
        text = draw(st.sampled_from(["", "http://", "https://", "HTTPS://"])) + text
    return draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", " ", "\n"]))


@PROPERTY
@given(domain_like())
def test_domain_normalisation_is_idempotent(raw):
    once = normalize_domain(raw)
    assert normalize_domain(once) == once


@PROPERTY
@given(domain_like())
def test_normalised_domain_has_no_scheme_www_path_or_upper_case(raw):
    key = normalize_domain(raw)
    assert key == key.lower()
    assert not key.startswith("www.")
    assert not any(ch in key for ch in "/:@?# ")
    assert not key.startswith(".") and not key.endswith(".")


@pytest.mark.parametrize(
    "raw",
    [
        "www.www.acme.com",  # first pass gives "www.acme.com", second "acme.com"
        "www..acme.com",  # first pass gives ".acme.com", second "acme.com"
        "acme.com /about",  # first pass gives "acme.com " (trailing space)
        "acme.com #contact",  # first pass gives "acme.com " (trailing space)
    ],
)
def test_domain_normalisation_is_idempotent_for_known_edge_cases(raw):
    once = normalize_domain(raw)
    assert normalize_domain(once) == once


@pytest.mark.parametrize("raw", ["//acme.com", "//www.acme.com/x"])
def test_protocol_relative_url_keeps_its_host(raw):
    assert normalize_domain(raw) == "acme.com"


@pytest.mark.parametrize("raw", ["[acme.com", "acme.com]", "acme\uff0fcom", "acme.com\uff03x"])
def test_malformed_domain_does_not_raise(raw):
    assert isinstance(normalize_domain(raw), str)


# ------------------------------------------------------------------ normalize_company_name


@pytest.mark.parametrize("empty", [None, ""])
def test_missing_company_name_normalises_to_empty_string(empty):
    assert normalize_company_name(empty) == ""


@pytest.mark.parametrize("raw", ["   ", "...", "—", ", - ."])
def test_name_of_only_punctuation_normalises_to_empty_string(raw):
    assert normalize_company_name(raw) == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ACME", "acme"),
        ("Acme Widgets", "acme widgets"),
        ("  Acme    Widgets  ", "acme widgets"),
        ("Acme\tWidgets\n", "acme widgets"),
    ],
)
def test_case_and_extra_whitespace_are_removed(raw, expected):
    assert normalize_company_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme, Widgets!", "acme widgets"),
        ("Acme-Widgets", "acme widgets"),
        ("Acme_Widgets", "acme widgets"),
        ("Acme/Widgets (EMEA)", "acme widgets emea"),
        ("O'Brien's Widgets", "o brien s widgets"),
        ("Acme.io", "acme io"),
    ],
)
def test_punctuation_becomes_a_single_space(raw, expected):
    assert normalize_company_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Café Müller", "cafe muller"),
        ("Société Générale", "societe generale"),
        ("Ærø Ølhus", "ærø ølhus"),
        ("ﬁrst Ｔｅｃｈ", "first tech"),
    ],
)
def test_accents_and_compatibility_forms_are_folded(raw, expected):
    assert normalize_company_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Smith & Sons", "smith and sons"),
        ("Smith and Sons", "smith and sons"),
        ("Smith&Sons", "smith and sons"),
    ],
)
def test_ampersand_is_spelled_and(raw, expected):
    assert normalize_company_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ACME, Inc.", "acme"),
        ("Acme Inc", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme LLC", "acme"),
        ("Acme, LLP", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("Acme PLC", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme AG", "acme"),
        ("Acme Co.", "acme"),
        ("Acme Company", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Acme Pty. Ltd.", "acme"),
        ("Acme Pvt Ltd", "acme"),
        ("Acme Co KG", "acme"),
        ("Acme BV", "acme"),
        ("Acme NV", "acme"),
        ("Acme SA", "acme"),
        ("Acme SARL", "acme"),
        ("Acme SRL", "acme"),
        ("Acme SpA", "acme"),
        ("Acme Oy", "acme"),
        ("Acme AB", "acme"),
        ("Acme AS", "acme"),
        ("Acme KK", "acme"),
    ],
)
def test_legal_suffix_is_removed(raw, expected):
    assert normalize_company_name(raw) == expected


def test_stacked_legal_suffixes_are_all_removed():
    assert normalize_company_name("Acme Holdings Corp Inc.") == "acme holdings"
    assert normalize_company_name("Acme Ltd LLC") == "acme"


@pytest.mark.parametrize("suffix", LEGAL_SUFFIXES)
def test_every_listed_legal_suffix_is_removed_from_the_end(suffix):
    assert normalize_company_name(f"Acme Widgets {suffix.upper()}") == "acme widgets"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Inc Widgets", "inc widgets"),
        ("Acme Co Widgets", "acme co widgets"),
        ("Acme Zinc", "acme zinc"),
        ("Texas Gas", "texas gas"),
        ("Acmeinc", "acmeinc"),
        ("Costco", "costco"),
    ],
)
def test_suffix_is_removed_only_as_a_whole_trailing_word(raw, expected):
    assert normalize_company_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Co", "co"), ("Inc.", "inc"), ("LLC", "llc"), ("Co. Ltd.", "co")],
)
def test_name_that_is_only_a_suffix_keeps_its_text(raw, expected):
    assert normalize_company_name(raw) == expected


def test_spellings_of_one_customer_share_one_name_key():
    spellings = ["Acme", "ACME, Inc.", "Acme Inc", "acme llc", "Acme Ltd.", "Acme GmbH", "Acme Co."]
    assert {normalize_company_name(s) for s in spellings} == {"acme"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme L.L.C.", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
    ],
)
def test_dotted_and_compound_legal_suffixes_are_removed(raw, expected):
    assert normalize_company_name(raw) == expected


_WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzÀÉÎÕÜßæøABCDEFXYZ0123456789", min_size=1, max_size=8
)
_SEPARATOR = st.sampled_from([" ", "  ", ", ", ". ", " & ", "-", "_", "/", "\t"])


@st.composite
def company_like(draw):
    """Company names made of words, separators and legal suffixes, in any case."""
    words = draw(
        st.lists(st.one_of(_WORD, st.sampled_from(LEGAL_SUFFIXES)), min_size=1, max_size=5)
    )
    text = words[0]
    for word in words[1:]:
        text += draw(_SEPARATOR) + word
    text += draw(st.sampled_from(["", ".", ",", " Inc.", " LLC", ", Ltd.", " Co"]))
    return draw(st.sampled_from([text, text.upper(), text.title()]))


@PROPERTY
@given(st.one_of(company_like(), st.text()))
def test_company_name_normalisation_is_idempotent(raw):
    once = normalize_company_name(raw)
    assert normalize_company_name(once) == once


@PROPERTY
@given(company_like())
def test_normalised_company_name_is_lower_case_single_spaced_words(raw):
    key = normalize_company_name(raw)
    assert key == key.lower()
    assert key == " ".join(key.split())
    assert all(ch.isalnum() or ch == " " for ch in key)
