"""Tables of the shared layer: the outbox of Celery tasks not yet handed to the broker, page
stamps, and the count of anonymous form posts."""

from django.db import models
from django.utils import timezone


class PendingTask(models.Model):
    """A Celery task to send to the broker, written in the same transaction as the change
    that asks for it (``prm.outbox.enqueue``). Deleted once the broker has it; while the
    broker is down it stays, and the next send or the minute's drain sends it."""

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"


class PageStamp(models.Model):
    """A number that changes whenever something a cached portal page shows may have
    changed, per scope (a partner). Database triggers on the tables those pages read set
    it, in the same transaction as the change, so every write counts: the services', the
    jobs', the admin's and bulk SQL alike (``prm.pagecache``). PostgreSQL only."""

    scope = models.BigIntegerField(primary_key=True)
    stamp = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.scope}: {self.stamp}"


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
