from django.db.models import Q

from prm.roles import Role, role_of

from .models import Notice
from .queries import partner_id_of


def notices(request):
    """The count of unread portal notices, for the partner's navigation bar."""
    user = getattr(request, "user", None)
    if role_of(user) != Role.PARTNER:
        return {}
    partner_id = partner_id_of(user)
    if partner_id is None:
        return {}
    unread = (
        Notice.objects.filter(partner_id=partner_id, read_at__isnull=True)
        .filter(Q(user__isnull=True) | Q(user=user))
        .count()
    )
    return {"unread_notices": unread}
