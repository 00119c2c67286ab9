"""Django's ``migrate``, one run at a time per database.

Deployments run migrations as a one-shot job (the ``migrate`` service of docker-compose,
the ``prm-migrate`` Job in Kubernetes), and two of them may start at once: two releases
close together, a retried job, ``docker compose up`` on a fresh volume. On an empty
database both would create the same tables and one would fail half-way. On PostgreSQL each
run first takes a session advisory lock and holds it until it ends, so the second waits,
then finds nothing left to apply. The lock belongs to the database session, so this run
must reach PostgreSQL directly, never through PgBouncer in transaction mode
(docs/deploy.md). SQLite needs no lock: it allows one writer at a time anyway.
"""

from django.core.management.commands import migrate
from django.db import connections

# A fixed key of the advisory lock (a bigint): b"prm:migr" read as a big-endian number.
LOCK_KEY = int.from_bytes(b"prm:migr", "big")


class Command(migrate.Command):
    def handle(self, *args, **options) -> str | None:
        connection = connections[options["database"]]
        # --check and --plan only read; they may run through a pooler (the web pods'
        # wait for migrations), where a session lock would stay behind on a pooled session.
        if connection.vendor != "postgresql" or options["check_unapplied"] or options["plan"]:
            return super().handle(*args, **options)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            if not cursor.fetchone()[0]:
                if options["verbosity"] >= 1:
                    self.stdout.write("Another migrate is running; waiting for it to finish.")
                cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            return super().handle(*args, **options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
