"""Mail in the tests: the services queue it on the suite's real broker (``prm.mail``);
``deliver_queued_mail()`` takes the queued mail off the broker and runs each through the
mail task in this process, so that it lands in ``django.core.mail.outbox``.

Use the ``queued_mail`` fixture in a test that reads the outbox: it empties the broker
first (another test's mail must not arrive in this one), and hands back the function.
"""

import base64
import json

import pytest

from prm.celery import app

MAIL_TASK = "prm.send_mail"


def deliver_queued_mail() -> int:
    """Run the mail tasks queued on the test broker, oldest first, leaving any other task
    where it is; returns how many ran."""
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        raw = client.lrange("celery", 0, -1)  # newest first: kombu pushes on the left
        delivered = 0
        for item in reversed(raw):
            message = json.loads(item)
            if message["headers"]["task"] != MAIL_TASK or not client.lrem("celery", 1, item):
                continue
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            app.tasks[MAIL_TASK].apply(args=args, kwargs=kwargs, throw=True)
            delivered += 1
    return delivered


@pytest.fixture
def queued_mail():
    app.control.purge()
    yield deliver_queued_mail
    app.control.purge()
