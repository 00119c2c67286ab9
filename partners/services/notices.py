"""Notices: sending one (shown in the portal, e-mailed as each reader chose, in their
language), reading them, each person's e-mail choices, the daily digest, pruning."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from prm.deferred_text import text_render, text_stored
from prm.mail import mail_on_commit

from ..models import (
    Notice,
    NoticeDelivery,
    NoticeEmailPreference,
    NoticeKind,
    Partner,
    PartnerRole,
    PartnerUser,
    User,
)

# A digest lists this many notices and says how many more are waiting in the portal.
DIGEST_MAX_NOTICES = 30
# A person gets at most one digest in this long, however often the job runs.
DIGEST_MIN_GAP = timedelta(hours=20)


def language_of(user: User) -> str:
    """The language ``user``'s mail is written in: their own choice, else the site's."""
    return user.language or settings.LANGUAGE_CODE


def notice_send(
    *,
    partner: Partner,
    text: str = "",
    user: User | None = None,
    level: str = "info",
    link: str = "",
    email_subject: str = "",
    email_body: str = "",
    kind: str = NoticeKind.GENERAL,
    message: str = "",
    params: dict | None = None,
) -> Notice:
    """A portal notice for the partner (or one of its people), e-mailed after commit to
    the person (a notice for everyone: the partner's admins) if ``email_subject`` is given
    and they want this ``kind`` of notice by mail as it happens.

    Either ``text``, as it is shown to everyone, or — so that each reader reads it in
    their own language — ``message``, an untranslated source marked with
    ``gettext_noop`` with named placeholders, and ``params``, its values
    (``prm.deferred_text``). With ``message``, ``email_subject`` and ``email_body`` are
    sources too, filled in with the same ``params``; the mail's body is the notice itself
    unless ``email_body`` is given.

    The text often quotes someone's words (a rejection's reason): the notice shows as much
    as its column holds, the e-mail all of it."""
    params = params or {}
    if message:
        text = text_stored(message, params)
    if not text:
        raise ValueError("A notice needs a text or a message.")
    limit = Notice._meta.get_field("text").max_length
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    notice = Notice.objects.create(
        partner=partner,
        user=user,
        level=level,
        kind=kind,
        text=shown,
        message=message,
        params=params,
        link=link,
    )
    if email_subject:
        _mail_now(
            notice,
            recipients=_recipients(partner, user),
            subject=email_subject,
            body=email_body,
            full_text=text,
        )
    return notice


def _recipients(partner: Partner, user: User | None) -> list[User]:
    if user is not None:
        return [user] if user.email else []
    return list(
        User.objects.filter(
            membership__partner=partner, membership__role=PartnerRole.ADMIN, is_active=True
        ).exclude(email="")
    )


def _mail_now(notice: Notice, *, recipients: list[User], subject: str, body: str, full_text: str):
    """Mail ``notice`` to those of ``recipients`` who want its kind as it happens: one
    message per language, each in it."""
    if not recipients:
        return
    elsewhere = set(
        NoticeEmailPreference.objects.filter(user__in=recipients, kind=notice.kind)
        .exclude(delivery=NoticeDelivery.IMMEDIATELY)
        .values_list("user_id", flat=True)
    )
    by_language: dict[str, list[str]] = defaultdict(list)
    for person in recipients:
        if person.pk not in elsewhere:
            by_language[language_of(person)].append(person.email)
    for language, addresses in by_language.items():
        if not notice.message:  # a text as it is (a caller that composed it itself)
            mail_on_commit(subject, body or full_text, addresses)
            continue
        with translation.override(language):
            mail_on_commit(
                text_render(subject, notice.params),
                text_render(body, notice.params) if body else notice.shown_text,
                addresses,
            )


def notices_mark_read(*, user: User, partner: Partner, up_to: datetime | None = None) -> None:
    """``user`` has seen the notices of ``partner`` meant for them, up to the one created
    at ``up_to`` (default: now); their teammates have not. One statement, however many."""
    PartnerUser.objects.filter(user=user, partner=partner).update(
        notices_seen_at=up_to or timezone.now()
    )


@transaction.atomic
def notice_preferences_set(*, user: User, deliveries: dict[str, str], language: str) -> None:
    """``user``'s choice, per kind of notice, of how it reaches them by e-mail, and the
    language of their mail. Kinds left out keep their choice. The caller validated both."""
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
    NoticeEmailPreference.objects.bulk_create(
        [
            NoticeEmailPreference(user=user, kind=kind, delivery=delivery)
            for kind, delivery in deliveries.items()
        ],
        update_conflicts=True,
        unique_fields=["user", "kind"],
        update_fields=["delivery"],
    )


def notice_digests_send(*, now: datetime | None = None) -> int:
    """The daily digest: each person who chose a digest for some kinds of notice gets one
    mail, in their language, listing the notices of those kinds meant for them that are
    new since their last digest and that they have not seen in the portal. A person gets
    at most one a day however often this runs (their row is claimed, locked, and stamped
    in the same transaction as the mail is queued). Returns how many mails were queued."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            PartnerUser.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(
                Q(notices_mailed_at__isnull=True) | Q(notices_mailed_at__lte=now - DIGEST_MIN_GAP),
                user__is_active=True,
                user__in=NoticeEmailPreference.objects.filter(delivery=NoticeDelivery.DAILY).values(
                    "user"
                ),
            )
            .exclude(user__email="")
            .order_by("pk")
        )
        if not due:
            return 0
        kinds: dict[int, set[str]] = defaultdict(set)
        for user_id, kind in NoticeEmailPreference.objects.filter(
            user__in=[member.user_id for member in due], delivery=NoticeDelivery.DAILY
        ).values_list("user_id", "kind"):
            kinds[user_id].add(kind)
        starts = {member.pk: _digest_start(member, now) for member in due}
        candidates = list(
            Notice.objects.filter(
                partner_id__in={member.partner_id for member in due},
                kind__in=set().union(*kinds.values()),
                created_at__gt=min(starts.values()),
                created_at__lte=now,
            )
            .filter(Q(user__isnull=True) | Q(user_id__in=[member.user_id for member in due]))
            .order_by("-created_at")
        )
        sent = 0
        for member in due:
            mine = [
                notice
                for notice in candidates
                if notice.partner_id == member.partner_id
                and notice.user_id in (None, member.user_id)
                and notice.kind in kinds[member.user_id]
                and notice.created_at > starts[member.pk]
            ]
            if mine:
                _digest_mail(member.user, mine, now)
                sent += 1
        PartnerUser.objects.filter(pk__in=[member.pk for member in due]).update(
            notices_mailed_at=now
        )
    return sent


def _digest_start(member: PartnerUser, now: datetime) -> datetime:
    """A digest lists what is newer than the last one (a first one: the last day) and than
    what the person saw in the portal."""
    start = member.notices_mailed_at or now - timedelta(days=1)
    if member.notices_seen_at and member.notices_seen_at > start:
        start = member.notices_seen_at
    return start


def _digest_mail(user: User, notices: list[Notice], now: datetime) -> None:
    with translation.override(language_of(user)):
        shown = notices[:DIGEST_MAX_NOTICES]
        lines = [
            f"- {date_format(timezone.localtime(n.created_at), 'SHORT_DATETIME_FORMAT')}: "
            f"{n.shown_text}"
            for n in shown
        ]
        if len(notices) > len(shown):
            lines.append(
                gettext("…and %(count)s more in the portal.") % {"count": len(notices) - len(shown)}
            )
        subject = gettext("Your notices of %(day)s") % {
            "day": date_format(timezone.localdate(now), "DATE_FORMAT")
        }
        body = "\n".join(
            [
                gettext("New since your last digest:"),
                "",
                *lines,
                "",
                gettext(
                    "You chose to get these notices in a daily digest; change it on the "
                    "notification settings page of the portal."
                ),
            ]
        )
        mail_on_commit(subject, body, [user.email])


def notices_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Delete the notices older than ``NOTICE_RETENTION_DAYS`` that every active person
    they are meant for has seen (the partner's people for a notice to all, the one person
    otherwise); a notice someone has not seen yet is kept, however old. In batches;
    returns how many (``dry_run``: counts them only)."""
    from django.db.models import Exists, OuterRef

    from prm.retention import delete_in_batches

    cutoff = now - timedelta(days=settings.NOTICE_RETENTION_DAYS)
    unseen = PartnerUser.objects.filter(
        Q(notices_seen_at__isnull=True) | Q(notices_seen_at__lt=OuterRef("created_at")),
        partner=OuterRef("partner"),
        user__is_active=True,
    )
    seen_by_all = Q(user__isnull=True) & ~Exists(unseen)
    seen_by_its_person = Q(user__isnull=False) & ~Exists(unseen.filter(user=OuterRef("user")))
    return delete_in_batches(
        Notice.objects.filter(seen_by_all | seen_by_its_person, created_at__lt=cutoff),
        dry_run=dry_run,
    )
