"""Receivers: recording facts only (no business decisions happen here)."""

from django.utils import timezone

from . import services


def record_login_day(sender, request, user, **kwargs) -> None:
    """A portal sign-in counts towards the partner's engagement (RULEBOOK §2)."""
    services.login_day_record(user=user, day=timezone.localdate())
