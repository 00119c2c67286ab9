"""The partner portal in Simplified Chinese: every page a partner opens speaks it, the
catalogue is complete and compiled, and every ``{% blocktranslate %}`` keeps its values."""

import gettext
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from django.template import Context, Template
from django.template.base import smart_split
from django.urls import reverse
from django.utils import translation

from incentives.models import MdfRequest
from incentives.services.claims import claim_submit
from scoring.services.reviews import qbr_schedule, qbr_share
from tests.factories import LedgerEntryFactory

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale/zh_Hans/LC_MESSAGES"
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _text(html: str) -> str:
    """What a reader sees: the page without its tags, scripts and styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _heading(html: str) -> str:
    match = re.search(r"<h1\b[^>]*>(.*?)</h1>", html, re.S)
    assert match, "the page has no main heading"
    return _text(match.group(1)).strip()


def _english_left(html: str, labels: list[str]) -> list[str]:
    text = _text(html)
    return [label for label in labels if re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text)]


# ---------------------------------------------------------------- pages


@pytest.fixture
def alpha(qbr_scenario, manager, a_admin):
    """Alpha's quarter (tests/qbr_scenario.py) plus a claim and a review shared with it."""
    partner = qbr_scenario["partner"]
    # What the quarter close stores with each scorecard: the page explains it.
    partner.scorecards.update(
        inputs={
            "quarter_revenue": "10000",
            "quarterly_quota": "50000",
            "approved_registrations": 2,
            "pipeline_target": 5,
            "certified_reps": 1,
            "reps_required": 2,
            "csat_responses": 3,
            "csat_average": "4.2",
            "login_days": 3,
            "trainings": 0,
            "events": 1,
        }
    )
    entry = LedgerEntryFactory(partner=partner, quarter="2026Q4")
    claim = claim_submit(partner=partner, entry_ids=[entry.pk], by=a_admin)
    qbr = qbr_schedule(
        partner=partner, quarter="2026Q4", scheduled_for=date(2026, 10, 20), by=manager
    )
    qbr_share(qbr=qbr, by=manager)
    return {
        "partner": partner,
        "deal": partner.deals.get(customer_name="Umbrella"),
        "claim": claim,
        "mdf": MdfRequest.objects.get(partner=partner, title="Zero-trust webinar"),
        "campaign": partner.campaigns.get(name="Zero-trust series"),
        "qbr": qbr,
    }


# (url name, the objects its arguments come from, whether its heading is written by us
#  (not a name from the data), a phrase of the page in Chinese, English that must be gone)
PAGES = [
    (
        "portal-home",
        None,
        False,
        "转售利润率",
        [
            "Reseller margin",
            "Referral commission",
            "Annual quota",
            "Open registrations",
            "Latest score",
            "Notices",
            "figures as of",
        ],
    ),
    (
        "portal-deals",
        None,
        True,
        "全部状态",
        [
            "My deals",
            "All statuses",
            "Register a deal",
            "Protection",
            "Pending approval",
            "days left",
        ],
    ),
    (
        "portal-deal-new",
        None,
        True,
        "客户公司",
        [
            "Customer company",
            "Estimated amount (USD)",
            "Expected close",
            "Deal type",
            "Cancel",
            "First to register wins",
        ],
    ),
    (
        "portal-deal",
        "deal",
        False,
        "保护期至",
        [
            "Customer domain",
            "Estimated amount",
            "Protected until",
            "Extend the protection",
            "History",
            "days left",
        ],
    ),
    (
        "portal-earnings",
        None,
        True,
        "台账",
        ["Earnings", "Ready to claim", "Ledger", "All kinds", "To claim or confirm", "Paid"],
    ),
    (
        "portal-claims",
        None,
        True,
        "核实截止日期",
        ["My claims", "Verification due", "Awaiting verification", "Submitted"],
    ),
    (
        "portal-claim",
        "claim",
        True,
        "申领项目",
        ["Submitted", "Verification due", "History", "Claimed", "Awaiting verification"],
    ),
    (
        "portal-contributions",
        None,
        True,
        "客户案例与社区贡献",
        ["References and contributions", "Submit", "Nothing submitted yet"],
    ),
    (
        "portal-mdf",
        None,
        True,
        "市场发展基金",
        [
            "Marketing development funds",
            "Request MDF",
            "Reserved by approved activities",
            "Available",
            "Activities",
            "Claim due",
            "Return on MDF",
        ],
    ),
    (
        "portal-mdf-request-new",
        None,
        True,
        "计划费用",
        ["Request MDF", "Planned cost (USD)", "Starts on", "Submit for approval"],
    ),
    (
        "portal-mdf-request",
        "mdf",
        False,
        "计划费用",
        [
            "Planned cost",
            "Expected leads",
            "Reserved for you",
            "File the claim",
            "Claim due",
            "Approved, funds reserved",
        ],
    ),
    (
        "portal-scorecards",
        None,
        True,
        "合计：",
        [
            "Scorecards",
            "Together",
            "Tier history",
            "quarterly quota",
            "To raise it",
            "Dispute this scorecard",
        ],
    ),
    (
        "portal-qbrs",
        None,
        True,
        "季度业务回顾",
        [
            "Business reviews",
            "Quarterly business reviews",
            "Open action items",
            "Joint business plan",
        ],
    ),
    (
        "portal-qbr",
        "qbr",
        True,
        "商机盘点",
        [
            "Pipeline walk",
            "Enablement gaps",
            "Growth plan",
            "Action items",
            "Escalations",
            "Printable",
            "Channel manager",
            "Scheduled for",
        ],
    ),
    (
        "qbr-print",
        "qbr",
        True,
        "商机盘点",
        ["Quarterly business review", "Pipeline walk", "Wins and losses", "Growth plan"],
    ),
    (
        "portal-business-plan",
        None,
        True,
        "目标客户",
        ["Joint business plan", "Target accounts", "Planned activities"],
    ),
    ("portal-onboarding", None, True, "入驻计划", ["Onboarding plan"]),
    (
        "portal-certifications",
        None,
        True,
        "颁发日期",
        ["Certifications", "Person", "Issued", "Expires", "lapsed", "certified reps"],
    ),
    ("portal-content", None, True, "内容库", ["Content library", "Download"]),
    (
        "portal-campaigns",
        None,
        True,
        "营销方案手册",
        ["Co-marketing campaigns", "The playbook", "Plan a campaign", "Cost share"],
    ),
    (
        "portal-campaign",
        "campaign",
        False,
        "记录线索",
        ["Record a lead", "Dates", "No leads recorded yet"],
    ),
    (
        "portal-leads",
        None,
        True,
        "等待您的答复",
        ["Waiting for your answer", "Your leads", "No lead is waiting for your answer."],
    ),
    (
        "portal-team",
        None,
        True,
        "邀请同事",
        ["Invite a colleague", "Send invitation", "Current certifications", "First name"],
    ),
    ("portal-notifications", None, True, "全部标为已读", ["Mark all read", "E-mail settings"]),
    (
        "portal-notification-settings",
        None,
        True,
        "每日摘要",
        ["Notification settings", "daily digest", "Immediately", "Deal registrations"],
    ),
]
NAVIGATION = ["My tier", "Earnings", "Scorecards", "Reviews", "Sign out", "Partner user"]


@pytest.mark.parametrize(
    ("name", "arg", "our_heading", "chinese", "english"), PAGES, ids=[p[0] for p in PAGES]
)
def test_each_portal_page_speaks_chinese(
    client, alpha, a_admin, name, arg, our_heading, chinese, english
):
    client.force_login(a_admin)
    url = reverse(name, args=[alpha[arg].pk] if arg else [])
    response = client.get(url, **ZH)
    assert response.status_code == 200
    page = response.content.decode()
    heading = _heading(page)
    if our_heading:
        assert CJK.search(heading), heading
    assert chinese in page
    assert _english_left(page, english) == []
    if name != "qbr-print":  # the printable page has no navigation
        assert 'lang="zh-hans"' in page
        assert _english_left(page, NAVIGATION) == []


def test_the_language_cookie_is_enough(client, alpha, a_admin):
    client.force_login(a_admin)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("portal-deals")).content.decode()
    assert _heading(page) == "我的商机"
    assert "2026年" in page  # dates in the Chinese format


def test_english_stays_the_default(client, alpha, a_admin):
    client.force_login(a_admin)
    page = client.get(reverse("portal-deals")).content.decode()
    assert _heading(page) == "My deals" and 'lang="en"' in page
    assert "Pending approval" in page and "7 Nov 2026" in page


def test_public_and_error_pages_speak_chinese(client, alpha, a_admin):
    for url, heading, english in (
        (reverse("apply"), "成为合作伙伴", ["Company name", "Why partner with us?"]),
        (reverse("account_login"), "登录合作伙伴门户", ["Password", "Forgot your password?"]),
    ):
        page = client.get(url, **ZH).content.decode()
        assert _heading(page) == heading and _english_left(page, english) == []

    client.force_login(a_admin)
    missing = client.get(reverse("portal-deal", args=[999_999]), **ZH)
    assert missing.status_code == 404 and _heading(missing.content.decode()) == "页面不存在"
    refused = client.get(reverse("executive-home"), **ZH)
    assert refused.status_code == 403 and _heading(refused.content.decode()) == "无权访问"


def test_form_errors_and_messages_speak_chinese(client, alpha, a_admin):
    client.force_login(a_admin)
    page = client.post(reverse("portal-deal-new"), {"customer_name": ""}, **ZH).content.decode()
    assert "该字段是必填项。" in page  # Django's own message, in Chinese too
    response = client.post(
        reverse("portal-deal-extend", args=[alpha["deal"].pk]),
        {"justification": "The customer's board meets next month."},
        follow=True,
        **ZH,
    )
    assert "保护期已延长至 2026年" in response.content.decode()


# ---------------------------------------------------------------- the catalogue


def _entries(po: Path) -> list[dict]:
    """Each entry of a .po file: its flags, msgctxt, msgid(_plural) and msgstr(s)."""
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        entry, key = {"flags": set()}, None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry[key] += _unquote(line)
            else:
                key, _, rest = line.partition(" ")
                entry[key] = _unquote(rest)
        if entry.get("msgid"):
            entries.append(entry)
    return entries


def _unquote(text: str) -> str:
    return text.strip()[1:-1].replace('\\"', '"').replace("\\n", "\n")


def test_the_catalogue_has_no_untranslated_or_fuzzy_entry():
    entries = _entries(CATALOGUE / "django.po")
    assert len(entries) > 600
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    empty = [e["msgid"] for e in entries if not (e.get("msgstr") or e.get("msgstr[0]"))]
    assert fuzzy == [] and empty == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs GNU gettext")
def test_msgfmt_finds_every_string_translated_and_well_formed():
    done = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(CATALOGUE / "django.po")],
        capture_output=True,
        text=True,
        check=True,
    )
    statistics = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ translated messages\.", statistics), statistics


def test_the_compiled_catalogue_matches_the_po_file():
    """The .mo is committed: it must be compiled from the .po as it is now."""
    with (CATALOGUE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in _entries(CATALOGUE / "django.po"):
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            got = compiled.ngettext(msgid, entry["msgid_plural"], 1)
            want = entry["msgstr[0]"]
        else:
            got, want = compiled.gettext(msgid), entry["msgstr"]
        if got != want:
            stale.append(entry["msgid"])
    assert stale == []


# ---------------------------------------------------------------- blocktranslate

BLOCK = re.compile(
    r"{%\s*blocktranslate\b(?P<args>.*?)%}(?P<body>.*?){%\s*endblocktranslate\s*%}", re.S
)
VARIABLE = re.compile(r"{{\s*(\w+)\s*}}")
TEMPLATES = sorted(
    path
    for path in (ROOT / "templates").rglob("*")
    if path.suffix in (".html", ".txt") and "admin" not in path.relative_to(ROOT).parts[1:2]
)


def _blocks() -> list[tuple[str, str, str]]:
    found = []
    for path in TEMPLATES:
        for match in BLOCK.finditer(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), match.group("args"), match.group("body")))
    return found


def _sample(args: str, body: str) -> tuple[str, dict, str | None]:
    """The block with each bound value replaced by a marker, the context the other
    variables need, and the name of its counter (rendered as 7)."""
    bits = list(smart_split(args))
    kept, bindings, counter = [], {}, None
    mode = None
    for bit in bits:
        if bit in ("with", "count"):
            mode = bit
        elif bit in ("trimmed", "context") or mode == "context":
            kept.append(bit)
            mode = "context" if bit == "context" else None
        elif "=" in bit and mode:
            name = bit.split("=", 1)[0]
            if mode == "count":
                counter = name
            else:
                bindings[name] = f'"⟦{name}⟧"'
    tag = " ".join(kept)
    if bindings:
        tag += " with " + " ".join(f"{name}={value}" for name, value in bindings.items())
    if counter:
        tag += f" count {counter}=7"
    source = "{% load i18n %}{% blocktranslate " + tag + " %}" + body + "{% endblocktranslate %}"
    names = [name for name in dict.fromkeys(VARIABLE.findall(body)) if name != counter]
    return source, {name: f"⟦{name}⟧" for name in names}, counter


def test_the_templates_have_blocks_to_check():
    assert len(_blocks()) > 120


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_blocktranslate_renders_its_variables(language):
    broken = []
    for where, args, body in _blocks():
        source, context, counter = _sample(args, body)
        with translation.override(language):
            out = Template(source).render(Context(context, autoescape=False))
        shown = [("7" if name == counter else f"⟦{name}⟧") in out for name in context]
        lost = [name for name, ok in zip(context, shown, strict=True) if not ok]
        if counter and counter in VARIABLE.findall(body) and "7" not in out:
            lost.append(counter)
        if lost or "%(" in out:
            broken.append(f"{where}: {body[:60]!r} lost {lost} → {out[:80]!r}")
    assert broken == []
