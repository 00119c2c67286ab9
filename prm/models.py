"""Tables of the shared layer: the count of anonymous form posts."""

from django.db import models
from django.utils import timezone


class FormPost(models.Model):
    """One accepted post of an anonymous form (the application, a password-reset request),
    counted per address to cap each address's posts an hour (``prm.throttles``). The
    address is kept only as a keyed hash; records older than a day are swept."""

    kind = models.CharField(max_length=40)
    address_hash = models.CharField(max_length=64)
    posted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "address_hash", "posted_at"], name="formpost_address"),
            models.Index(fields=["posted_at"], name="formpost_posted_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.address_hash[:8]} {self.posted_at:%Y-%m-%d %H:%M}"
