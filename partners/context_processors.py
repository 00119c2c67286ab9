from prm.roles import Role, role_of

from .models import PartnerRole
from .queries import UNREAD_BADGE_MAX, partner_id_of, partner_role_of, unread_notice_count


def notices(request) -> dict:
    """The count of unread portal notices, for the partner's navigation bar, and whether
    the person is their partner's admin."""
    user = getattr(request, "user", None)
    if role_of(user) != Role.PARTNER:
        return {}
    partner_id = partner_id_of(user)
    if partner_id is None:
        return {}
    count = unread_notice_count(user, partner_id)
    return {
        "unread_notices": f"{UNREAD_BADGE_MAX}+" if count > UNREAD_BADGE_MAX else count,
        # The partner's admin sees the links to its settings (webhooks) in the account menu.
        "partner_admin": partner_role_of(user) == PartnerRole.ADMIN,
    }
