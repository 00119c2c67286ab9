from prm.roles import Role, role_of

from .queries import UNREAD_BADGE_MAX, partner_id_of, unread_notice_count


def notices(request) -> dict:
    """The count of unread portal notices, for the partner's navigation bar."""
    user = getattr(request, "user", None)
    if role_of(user) != Role.PARTNER:
        return {}
    partner_id = partner_id_of(user)
    if partner_id is None:
        return {}
    count = unread_notice_count(user, partner_id)
    return {"unread_notices": f"{UNREAD_BADGE_MAX}+" if count > UNREAD_BADGE_MAX else count}
