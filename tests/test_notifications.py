"""The notification centre: every notice per person, read or unread, by kind; marking all
read; each person's e-mail choice per kind (immediately, daily digest, never); notices
written in the reader's language when shown or mailed, not stored in English."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils.translation import gettext_noop

from deals import services as deal_services
from partners.models import (
    Notice,
    NoticeDelivery,
    NoticeEmailPreference,
    NoticeKind,
    PartnerUser,
)
from partners.services import notice_send
from partners.services.notices import notice_digests_send, notice_preferences_set
from prm.deferred_text import amount_value, date_value, text_value
from tests.factories import PartnerUserFactory

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CENTRE = "portal-notifications"


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def approved(partner, user, customer="Globex Corporation"):
    return notice_send(
        partner=partner,
        user=user,
        level="success",
        kind=NoticeKind.DEALS,
        message=gettext_noop("%(customer)s is approved and protected until %(day)s."),
        params={"customer": customer, "day": date_value(date(2026, 8, 29))},
        link="/portal/deals/1/",
        email_subject=gettext_noop("Registration approved: %(customer)s"),
    )


def listed(response) -> str:
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


# ---------------------------------------------------------------- the reader's language


def test_a_notice_is_shown_in_each_readers_language(client, a_rep, partner_a, now):
    notice = approved(partner_a, a_rep)
    assert notice.text == "Globex Corporation is approved and protected until 29 Aug 2026."
    client.force_login(a_rep)
    english = listed(client.get(reverse(CENTRE)))
    chinese = listed(client.get(reverse(CENTRE), **ZH))
    assert "Globex Corporation is approved and protected until 29 Aug 2026." in english
    assert "Globex Corporation 已批准，保护期至 2026年8月29日。" in chinese
    assert "is approved" not in chinese


def test_a_phrase_inside_a_notice_is_translated_too(client, a_rep, partner_a):
    from deals import rules

    notice_send(
        partner=partner_a,
        user=a_rep,
        kind=NoticeKind.DEALS,
        message=gettext_noop("%(customer)s: %(reason)s"),
        params={"customer": "Globex", "reason": text_value(rules.UNDER_REVIEW)},
    )
    client.force_login(a_rep)
    page = listed(client.get(reverse(CENTRE), **ZH))
    assert "Globex：" in page and "under review" not in page


def test_a_notice_from_a_service_is_stored_as_its_source_and_values(
    client, a_rep, partner_a, manager, now
):
    deal = deal_services.deal_register(
        partner=partner_a,
        submitted_by=a_rep,
        customer_name="Initech",
        customer_domain="initech.example",
        amount="100000.00",
        expected_close=date(2026, 6, 30),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    deal_services.deal_approve(deal=deal, by=manager)
    notice = Notice.objects.get(partner=partner_a, kind=NoticeKind.DEALS)
    assert notice.message == "%(customer)s is approved and protected until %(day)s."
    assert notice.params["customer"] == "Initech"
    client.force_login(a_rep)
    assert "Initech 已批准" in listed(client.get(reverse(CENTRE), **ZH))


def test_a_notice_stored_before_shows_its_old_text(client, a_rep, partner_a):
    Notice.objects.create(partner=partner_a, text="Your Q3 rebate is approved")
    client.force_login(a_rep)
    assert "Your Q3 rebate is approved" in listed(client.get(reverse(CENTRE), **ZH))


def test_a_translation_that_does_not_fit_falls_back_to_english(partner_a):
    notice = Notice.objects.create(
        partner=partner_a, text="old", message="Hello %(name)s", params={"other": "x"}
    )
    assert notice.shown_text == "old"  # neither the source nor a translation fits


def test_the_old_call_with_a_text_still_works(partner_a, a_rep):
    notice = notice_send(partner=partner_a, user=a_rep, text="A plain text")
    assert (notice.text, notice.message, notice.kind) == ("A plain text", "", "general")
    assert notice.shown_text == "A plain text"


# ---------------------------------------------------------------- the centre


def test_the_centre_lists_ones_own_and_the_partners_notices_only(
    client, a_admin, a_rep, partner_a, partner_b, b_admin
):
    notice_send(partner=partner_a, text="For everyone at Alpha")
    notice_send(partner=partner_a, user=a_rep, text="For Andy only")
    notice_send(partner=partner_a, user=a_admin, text="For Alice only")
    notice_send(partner=partner_b, text="For everyone at Bravo")
    client.force_login(a_rep)
    page = listed(client.get(reverse(CENTRE)))
    assert "For everyone at Alpha" in page and "For Andy only" in page
    assert "For Alice only" not in page and "Bravo" not in page


def test_the_centre_shows_read_and_unread_and_filters_by_either(client, a_rep, partner_a, now):
    notice_send(partner=partner_a, text="Seen before")
    now.shift(timedelta(minutes=1))
    client.force_login(a_rep)
    client.post(reverse("portal-notifications-read"))
    now.shift(timedelta(minutes=1))
    notice_send(partner=partner_a, text="Brand new")
    page = listed(client.get(reverse(CENTRE)))
    assert "Seen before" in page and "Brand new" in page
    unread = listed(client.get(reverse(CENTRE), {"state": "unread"}))
    assert "Brand new" in unread and "Seen before" not in unread
    read = listed(client.get(reverse(CENTRE), {"state": "read"}))
    assert "Seen before" in read and "Brand new" not in read


def test_the_centre_filters_by_kind(client, a_rep, partner_a):
    approved(partner_a, a_rep, customer="Globex")
    notice_send(partner=partner_a, kind=NoticeKind.MDF, text="MDF request approved")
    client.force_login(a_rep)
    deals = listed(client.get(reverse(CENTRE), {"kind": "deals"}))
    assert "Globex" in deals and "MDF request approved" not in deals
    mdf = listed(client.get(reverse(CENTRE), {"kind": "mdf"}))
    assert "MDF request approved" in mdf and "Globex" not in mdf


@pytest.mark.parametrize(
    "query",
    [{"kind": "nonsense"}, {"state": "maybe"}, {"page": "x"}, {"page": "0"}, {"kind": "é" * 300}],
)
def test_bad_filters_answer_400_with_a_message(client, a_rep, partner_a, query):
    client.force_login(a_rep)
    response = client.get(reverse(CENTRE), query)
    assert response.status_code == 400
    assert 'data-testid="filter-errors"' in response.content.decode()


def test_a_page_past_the_end_is_404(client, a_rep, partner_a):
    client.force_login(a_rep)
    assert client.get(reverse(CENTRE), {"page": "2"}).status_code == 404


def test_the_centre_pages_by_25_in_bounded_queries(
    client, a_rep, partner_a, django_assert_max_num_queries
):
    Notice.objects.bulk_create(
        Notice(partner=partner_a, text=f"Notice {i}", kind=NoticeKind.EARNINGS) for i in range(60)
    )
    client.force_login(a_rep)
    client.get(reverse(CENTRE))  # the session's first read
    with django_assert_max_num_queries(10):
        first = listed(client.get(reverse(CENTRE), {"kind": "earnings"}))
    assert first.count('data-testid="notice"') == 25
    assert "kind=earnings&amp;page=2" in first
    with django_assert_max_num_queries(10):
        last = listed(client.get(reverse(CENTRE), {"kind": "earnings", "page": "3"}))
    assert last.count('data-testid="notice"') == 10


def test_mark_all_read_clears_the_badge_for_that_person_only(client, a_admin, a_rep, partner_a):
    notice_send(partner=partner_a, text="For everyone")
    client.force_login(a_rep)
    assert 'data-testid="unread"' in listed(client.get(reverse(CENTRE)))
    response = client.post(reverse("portal-notifications-read"))
    assert response.status_code == 302 and response.url == reverse(CENTRE)
    page = listed(client.get(reverse(CENTRE)))
    assert 'data-testid="unread"' not in page
    assert "All your notices are marked read." in page
    client.force_login(a_admin)
    assert 'data-testid="unread"' in listed(client.get(reverse(CENTRE)))


def test_mark_all_read_takes_a_post_only(client, a_rep, partner_a):
    client.force_login(a_rep)
    assert client.get(reverse("portal-notifications-read")).status_code == 405
    assert PartnerUser.objects.get(user=a_rep).notices_seen_at is None


def test_the_badge_links_to_the_centre(client, a_rep, partner_a):
    client.force_login(a_rep)
    page = listed(client.get(reverse("portal-deals")))
    assert f'href="{reverse(CENTRE)}" data-testid="notifications-link"' in page


@pytest.mark.parametrize(
    ("who", "status"), [("manager", 403), ("executive", 403), ("outsider", 404)]
)
def test_the_centre_is_for_partner_people(client, who, status, request):
    """Staff have no notices (403); a partner person with no partner has none either (404,
    as on the other pages of a partner's own)."""
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(CENTRE)).status_code == status
    assert client.post(reverse("portal-notifications-read")).status_code == status


def test_the_pages_speak_chinese(client, a_rep, partner_a):
    client.force_login(a_rep)
    centre = listed(client.get(reverse(CENTRE), **ZH))
    settings_page = listed(client.get(reverse("portal-notification-settings"), **ZH))
    assert "全部标为已读" in centre and "Mark all read" not in centre
    assert "每日摘要" in settings_page and "daily digest" not in settings_page


# ---------------------------------------------------------------- e-mail choices


def preferences(language="en", **kinds) -> dict:
    data = {f"kind_{kind}": NoticeDelivery.IMMEDIATELY for kind in NoticeKind.values}
    data |= {f"kind_{kind}": value for kind, value in kinds.items()}
    return data | {"language": language}


def test_a_person_saves_their_choice_per_kind_and_their_language(client, a_rep, partner_a):
    client.force_login(a_rep)
    url = reverse("portal-notification-settings")
    page = listed(client.get(url))
    assert 'value="immediately" checked' in page
    response = client.post(url, preferences(deals="daily", mdf="never", language="zh-hans"))
    assert response.status_code == 302
    a_rep.refresh_from_db()
    assert a_rep.language == "zh-hans"
    chosen = dict(a_rep.notice_preferences.values_list("kind", "delivery"))
    assert chosen["deals"] == "daily" and chosen["mdf"] == "never"
    client.post(url, preferences(deals="never", language="zh-hans"))  # updates, no duplicate
    assert a_rep.notice_preferences.get(kind="deals").delivery == "never"
    assert a_rep.notice_preferences.count() == len(NoticeKind.values)


@pytest.mark.parametrize(
    "bad",
    [{"kind_deals": "hourly"}, {"language": "klingon"}, {"kind_deals": ""}, {"language": ""}],
)
def test_a_bad_choice_answers_400_with_a_message_and_saves_nothing(client, a_rep, partner_a, bad):
    client.force_login(a_rep)
    response = client.post(reverse("portal-notification-settings"), preferences() | bad)
    assert response.status_code == 400
    assert 'data-testid="preference-errors"' in response.content.decode()
    assert not NoticeEmailPreference.objects.exists()


def test_an_immediate_mail_goes_in_the_readers_language(
    a_rep, partner_a, queued_mail, django_capture_on_commit_callbacks
):
    notice_preferences_set(user=a_rep, deliveries={}, language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        approved(partner_a, a_rep)
    queued_mail()
    (sent,) = mail.outbox
    assert sent.subject == "报备已批准：Globex Corporation"
    assert "已批准，保护期至" in sent.body and sent.to == [a_rep.email]


def test_daily_or_never_means_no_mail_as_it_happens(
    a_admin, a_rep, partner_a, queued_mail, django_capture_on_commit_callbacks
):
    notice_preferences_set(user=a_rep, deliveries={"deals": "daily"}, language="en")
    notice_preferences_set(user=a_admin, deliveries={"mdf": "never"}, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        approved(partner_a, a_rep)
        notice_send(
            partner=partner_a,
            kind=NoticeKind.MDF,
            message=gettext_noop("Your MDF request is approved"),
            email_subject=gettext_noop("Your MDF request is approved"),
        )
        notice_send(
            partner=partner_a,
            kind=NoticeKind.EARNINGS,
            message=gettext_noop("Your incentive claim is approved"),
            email_subject=gettext_noop("Your incentive claim is approved"),
        )
    queued_mail()
    assert [(m.subject, m.to) for m in mail.outbox] == [
        ("Your incentive claim is approved", [a_admin.email])
    ]


# ---------------------------------------------------------------- the daily digest


def test_the_digest_lists_the_chosen_kinds_unseen_in_the_readers_language(
    a_admin, a_rep, partner_a, partner_b, queued_mail, django_capture_on_commit_callbacks, now
):
    notice_preferences_set(user=a_rep, deliveries={"deals": "daily"}, language="zh-hans")
    approved(partner_a, a_rep, customer="Globex")
    approved(partner_a, a_admin, customer="For Alice")  # not Andy's
    notice_send(partner=partner_a, kind=NoticeKind.MDF, text="Not a chosen kind")
    notice_send(partner=partner_b, kind=NoticeKind.DEALS, text="Another partner's")
    now.shift(timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert notice_digests_send() == 1
    queued_mail()
    (digest,) = mail.outbox
    assert digest.to == [a_rep.email]
    assert digest.subject.startswith("您") and "的通知" in digest.subject
    assert "Globex 已批准" in digest.body
    assert "For Alice" not in digest.body and "Not a chosen kind" not in digest.body
    assert "Another partner" not in digest.body


def test_the_digest_goes_once_a_day_and_skips_what_was_seen(
    client, a_rep, partner_a, queued_mail, django_capture_on_commit_callbacks, now
):
    notice_preferences_set(user=a_rep, deliveries={"deals": "daily"}, language="en")
    approved(partner_a, a_rep, customer="First")
    now.shift(timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert notice_digests_send() == 1
        assert notice_digests_send() == 0  # the same day again: nothing
    approved(partner_a, a_rep, customer="Seen in the portal")
    client.force_login(a_rep)
    client.post(reverse("portal-notifications-read"))
    now.shift(timedelta(days=1))
    approved(partner_a, a_rep, customer="Second")
    now.shift(timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert notice_digests_send() == 1
    queued_mail()
    first, second = mail.outbox
    assert "First" in first.body
    assert "Second" in second.body and "First" not in second.body
    assert "Seen in the portal" not in second.body


def test_the_digest_costs_the_same_queries_for_many_people(
    partner_a, django_assert_max_num_queries, now
):
    people = [PartnerUserFactory(partner=partner_a).user for _ in range(8)]
    for person in people:
        notice_preferences_set(user=person, deliveries={"deals": "daily"}, language="en")
        approved(partner_a, person)
    now.shift(timedelta(hours=1))
    with django_assert_max_num_queries(6):
        assert notice_digests_send() == 8


def test_the_digest_is_on_beat():
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="partners.send_notice_digests").exists()


def test_a_notice_writes_an_amount_in_its_programs_currency(client, a_rep, partner_a, manager):
    from incentives.services.mdf import mdf_request_approve
    from tests.factories import MdfFundFactory, MdfRequestFactory

    program = partner_a.program
    program.currency = "EUR"
    program.save(update_fields=["currency"])
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026, amount="20000")
    request = MdfRequestFactory(fund=fund, title="Spring webinar", planned_cost="3106")
    mdf_request_approve(request=request, by=manager, reserve="1553")
    notice = Notice.objects.get(partner=partner_a, kind=NoticeKind.MDF)
    assert notice.params["amount"] == {"amount": "1553", "currency": "EUR"}
    client.force_login(a_rep)
    page = listed(client.get(reverse(CENTRE)))
    assert "“Spring webinar” approved: €1,553.00 reserved." in page
    # An amount stored without its currency (older notices) is written as before.
    notice_send(
        partner=partner_a,
        level="info",
        kind=NoticeKind.MDF,
        message=gettext_noop("MDF claim for “%(title)s” approved: %(amount)s reimbursed."),
        params={"title": "Autumn fair", "amount": amount_value("12500")},
    )
    assert "“Autumn fair” approved: 12,500.00 reimbursed." in listed(client.get(reverse(CENTRE)))
