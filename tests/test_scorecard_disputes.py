"""Scorecard disputes (RULEBOOK §2): raised by the partner's people from the scorecards
page or the API, answered by the partner's channel manager in the admin or on the partner
360 page; the partner reads the answer and is told."""

import pytest
from django.core import mail
from django.utils import translation

from partners.models import Notice
from partners.services.notices import notice_preferences_set
from scoring.models import DisputeStatus, ScorecardDispute
from scoring.services.disputes import DisputeError, dispute_answer, dispute_raise
from tests.factories import PartnerUserFactory, ScorecardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(partner_a):
    return ScorecardFactory(partner=partner_a, quarter="2026Q2")


def raised(card, by, reason="Two approved deals are missing from the pipeline."):
    return dispute_raise(scorecard=card, by=by, reason=reason)


# ---------------------------------------------------------------- raising


def test_a_rep_disputes_from_the_scorecards_page_and_the_manager_is_mailed(
    client, a_rep, manager, card, queued_mail, django_capture_on_commit_callbacks
):
    client.force_login(a_rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/portal/scorecards/{card.pk}/dispute/", {"reason": "  Deals are missing.  "}
        )
    assert response.status_code == 302
    dispute = ScorecardDispute.objects.get()
    assert (dispute.scorecard, dispute.raised_by, dispute.reason, dispute.status) == (
        card,
        a_rep,
        "Deals are missing.",
        DisputeStatus.OPEN,
    )
    assert dispute.history.count() == 1
    queued_mail()
    (sent,) = mail.outbox
    assert sent.to == [manager.email]
    assert sent.subject == "Alpha Systems disputes its 2026Q2 scorecard"
    assert "Deals are missing." in sent.body
    page = client.get("/portal/scorecards/").content.decode()
    assert "Deals are missing." in page
    assert "Dispute this scorecard" not in page  # one open dispute at a time


def test_the_managers_mail_is_in_their_language(
    a_admin, manager, card, queued_mail, django_capture_on_commit_callbacks
):
    manager.language = "zh-hans"
    manager.save()
    with django_capture_on_commit_callbacks(execute=True):
        raised(card, a_admin)
    queued_mail()
    (sent,) = mail.outbox
    assert sent.subject == "Alpha Systems 对其 2026Q2 记分卡提出异议"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why you dispute this scorecard."),
        ("   ", "Say why you dispute this scorecard."),
        ("x" * 2001, "Keep the reason to 2000 characters (it has 2001)."),
    ],
)
def test_a_bad_reason_is_refused_with_a_message(client, a_rep, card, reason, message):
    client.force_login(a_rep)
    response = client.post(f"/portal/scorecards/{card.pk}/dispute/", {"reason": reason})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ScorecardDispute.objects.exists()


def test_one_open_dispute_per_scorecard_then_another_after_the_answer(
    client, a_rep, a_admin, manager, card
):
    first = raised(card, a_rep)
    client.force_login(a_admin)
    response = client.post(f"/portal/scorecards/{card.pk}/dispute/", {"reason": "Me too"})
    assert response.status_code == 400
    assert "already has an open dispute" in response.content.decode()
    dispute_answer(dispute=first, by=manager, answer="The deals were approved in July.")
    second = raised(card, a_admin, "They were submitted in June.")
    assert list(card.disputes.order_by("pk")) == [first, second]


def test_only_the_partners_people_raise_and_only_on_their_own_scorecards(
    client, api, a_rep, b_admin, manager, chief, card
):
    client.force_login(b_admin)
    assert client.post(f"/portal/scorecards/{card.pk}/dispute/", {"reason": "x"}).status_code == 404
    assert client.get(f"/portal/scorecards/{card.pk}/dispute/").status_code == 404
    client.force_login(manager)
    assert client.post(f"/portal/scorecards/{card.pk}/dispute/", {"reason": "x"}).status_code == 403
    with pytest.raises(DisputeError):
        raised(card, chief)
    client.force_login(a_rep)
    assert client.get(f"/portal/scorecards/{card.pk}/dispute/").status_code == 405
    assert not ScorecardDispute.objects.exists()


# ---------------------------------------------------------------- the API


def test_api_raises_a_dispute_and_lists_it_on_the_scorecard(api, a_rep, b_admin, card):
    url = f"/api/v1/scorecards/{card.pk}/disputes/"
    response = api(a_rep).post(url, {"reason": "Pipeline is short by two."}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["reason"], body["raised_by"]) == (
        "open",
        "Pipeline is short by two.",
        "andy",
    )
    again = api(a_rep).post(url, {"reason": "Again"}, format="json")
    assert again.status_code == 409
    assert "already has an open dispute" in again.json()["detail"]
    row = api(a_rep).get(f"/api/v1/scorecards/{card.pk}/").json()
    assert [d["reason"] for d in row["disputes"]] == ["Pipeline is short by two."]
    assert api(b_admin).post(url, {"reason": "x"}, format="json").status_code == 404


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": ["x"]}])
def test_api_bad_input_is_a_400(api, a_rep, card, body):
    response = api(a_rep).post(f"/api/v1/scorecards/{card.pk}/disputes/", body, format="json")
    assert response.status_code == 400, response.content
    assert not ScorecardDispute.objects.exists()


def test_api_staff_cannot_raise(api, manager, card):
    response = api(manager).post(
        f"/api/v1/scorecards/{card.pk}/disputes/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 403
    assert "partner's own people" in response.json()["detail"]


# ---------------------------------------------------------------- answering


def test_the_manager_answers_in_the_admin_and_the_partner_reads_it(
    client, a_admin, a_rep, manager, card, queued_mail, django_capture_on_commit_callbacks
):
    dispute = raised(card, a_rep)
    client.force_login(manager)
    url = f"/admin/scoring/scorecarddispute/{dispute.pk}/change/"
    page = client.get(url).content.decode()
    assert "Two approved deals are missing" in page
    assert "How the points came about" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"answer": "Both were approved after the quarter."})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.answer, dispute.answered_by) == (
        DisputeStatus.ANSWERED,
        "Both were approved after the quarter.",
        manager,
    )
    notice = Notice.objects.get(partner=card.partner)
    assert (
        notice.shown_text == "Your channel manager answered your dispute of the 2026Q2 scorecard."
    )
    with translation.override("zh-hans"):
        assert "2026Q2" in notice.shown_text and "channel manager" not in notice.shown_text
    queued_mail()
    (sent,) = mail.outbox
    assert (sent.subject, sent.to) == (
        "The answer to your 2026Q2 scorecard dispute",
        [a_admin.email],
    )
    client.force_login(a_rep)
    page = client.get("/portal/scorecards/").content.decode()
    assert "Both were approved after the quarter." in page
    # answered: the admin's page shows the answer and takes no other
    client.force_login(manager)
    client.post(url, {"answer": "Changed my mind"})
    dispute.refresh_from_db()
    assert dispute.answer == "Both were approved after the quarter."


def test_an_empty_answer_is_a_400_in_the_admin(client, a_rep, manager, card):
    dispute = raised(card, a_rep)
    client.force_login(manager)
    response = client.post(f"/admin/scoring/scorecarddispute/{dispute.pk}/change/", {"answer": " "})
    assert response.status_code == 400
    assert "Write an answer to the dispute." in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.is_open


def test_a_manager_not_assigned_cannot_see_or_answer(client, a_rep, other_manager, chief, card):
    dispute = raised(card, a_rep)
    client.force_login(other_manager)
    url = f"/admin/scoring/scorecarddispute/{dispute.pk}/change/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"answer": "No"}).status_code == 404
    assert (
        client.post(f"/manager/disputes/{dispute.pk}/answer/", {"answer": "No"}).status_code == 404
    )
    with pytest.raises(DisputeError, match="channel manager"):
        dispute_answer(dispute=dispute, by=other_manager, answer="No")
    dispute.refresh_from_db()
    assert dispute.is_open
    # a chief answers any partner's
    client.force_login(chief)
    assert client.post(url, {"answer": "Checked: the score stands."}).status_code == 302
    dispute.refresh_from_db()
    assert dispute.answered_by == chief


def test_the_manager_answers_on_the_partner_360_page(client, a_rep, manager, executive, card):
    dispute = raised(card, a_rep)
    client.force_login(manager)
    page = client.get(f"/manager/partners/{card.partner_id}/").content.decode()
    assert "Disputes waiting for your answer" in page and "Two approved deals" in page
    url = f"/manager/disputes/{dispute.pk}/answer/"
    bad = client.post(url, {"answer": ""})
    assert bad.status_code == 400
    assert "Write an answer to the dispute." in bad.content.decode()
    assert client.get(url).status_code == 405
    long = client.post(url, {"answer": "y" * 2001})
    assert long.status_code == 400
    assert "Keep the answer to 2000 characters" in long.content.decode()
    response = client.post(url, {"answer": "Recounted: 16 stands."})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.answer == "Recounted: 16 stands."
    assert (
        "Disputes waiting"
        not in client.get(f"/manager/partners/{card.partner_id}/").content.decode()
    )
    again = client.post(url, {"answer": "Again"})
    assert again.status_code == 400 and "answered already" in again.content.decode()
    # executives read, never answer
    client.force_login(executive)
    assert client.post(url, {"answer": "x"}).status_code in (403, 404)


def test_admin_list_shows_open_disputes_first(
    client, a_rep, manager, partner_a, django_assert_max_num_queries
):
    cards = [ScorecardFactory(partner=partner_a, quarter=q) for q in ("2025Q4", "2026Q1", "2026Q2")]
    answered = raised(cards[0], a_rep)
    dispute_answer(dispute=answered, by=manager, answer="Fine.")
    older = raised(cards[1], a_rep)
    newer = raised(cards[2], a_rep)
    for n in range(10):
        other = PartnerUserFactory(partner=partner_a).user
        raised(ScorecardFactory(partner=partner_a, quarter=f"20{10 + n}Q1"), other)
    client.force_login(manager)
    with django_assert_max_num_queries(20):
        page = client.get("/admin/scoring/scorecarddispute/").content.decode()
    assert page.index(f"/{older.pk}/change/") < page.index(f"/{newer.pk}/change/")
    assert page.index(f"/{newer.pk}/change/") < page.index(f"/{answered.pk}/change/")


# ---------------------------------------------------------------- query bounds


def test_the_pages_cost_the_same_with_more_disputes(
    client, a_rep, manager, partner_a, django_assert_max_num_queries
):
    def add(quarter):
        card = ScorecardFactory(partner=partner_a, quarter=quarter)
        dispute = raised(card, a_rep)
        dispute_answer(dispute=dispute, by=manager, answer="Answered.")
        raised(card, a_rep, "Still wrong.")

    add("2026Q1")
    client.force_login(a_rep)
    with django_assert_max_num_queries(16) as few:
        client.get("/portal/scorecards/")
    for quarter in ("2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q2"):
        add(quarter)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/portal/scorecards/").content.decode()
    assert page.count('data-testid="dispute"') == 12
    client.force_login(manager)
    with django_assert_max_num_queries(len(few.captured_queries) + 30) as first:
        client.get(f"/manager/partners/{partner_a.pk}/")
    add("2024Q4")
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get(f"/manager/partners/{partner_a.pk}/")


def test_the_partner_admins_mail_of_the_answer_is_in_their_language(
    a_admin, a_rep, manager, card, queued_mail, django_capture_on_commit_callbacks
):
    notice_preferences_set(user=a_admin, deliveries={}, language="zh-hans")
    dispute = raised(card, a_rep)
    queued_mail()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dispute_answer(dispute=dispute, by=manager, answer="OK")
    assert Notice.objects.get().link == "/portal/scorecards/#scorecard-2026Q2"
    queued_mail()
    (sent,) = mail.outbox
    assert sent.to == [a_admin.email]
    assert "2026Q2" in sent.subject and "dispute" not in sent.subject
