"""Mail leaves through the worker (``prm.mail``, ``prm.tasks.send_mail``): queued on the
broker once the transaction commits, never sent inside it; a broker outage is logged and
the caller carries on; the worker retries while the mail server is unreachable or slow and
gives up on a server that refuses the message for good."""

import json
import logging
import socket
import threading
from contextlib import contextmanager

import pytest
from django.core import mail
from django.db import transaction

from prm.celery import app
from prm.mail import MailRefused, mail_deliver, mail_on_commit
from prm.tasks import MAIL_RETRIES
from prm.tasks import send_mail as send_mail_task
from tests.throwaway import free_port
from tests.workers import start_worker, stop_worker, wait_for

pytestmark = pytest.mark.django_db


def queued_mail_tasks() -> list[dict]:
    with app.connection_for_write() as connection:
        raw = connection.default_channel.client.lrange("celery", 0, -1)
    return [json.loads(m)["headers"] for m in raw]


@pytest.fixture
def broker_down():
    """The broker's address points at a port nobody listens on, for this test."""
    saved = app.conf.broker_write_url
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    yield
    app.conf.broker_write_url = saved


@contextmanager
def smtp_server(greeting: bytes | None):
    """A mail server on a free port that answers every connection with ``greeting`` and
    hangs up, or (``None``) accepts and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if greeting is None:
                held.append(conn)  # silent: keep it open, say nothing
            else:
                with conn:
                    conn.sendall(greeting)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.fixture
def smtp_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 1
    return settings


@pytest.mark.django_db(transaction=True)
def test_a_mail_is_queued_when_the_transaction_commits_and_sent_by_the_task(queued_mail):
    with transaction.atomic():
        mail_on_commit("Your claim", "It is approved.", "ana@alpha.example")
        assert queued_mail_tasks() == []  # not before the commit
    (headers,) = queued_mail_tasks()
    assert headers["task"] == "prm.send_mail"
    assert mail.outbox == []  # nothing sent by the caller itself
    assert queued_mail() == 1
    (message,) = mail.outbox
    assert (message.subject, message.body, message.to) == (
        "Your claim",
        "It is approved.",
        ["ana@alpha.example"],
    )


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_mails_nothing(queued_mail):
    with pytest.raises(RuntimeError), transaction.atomic():
        mail_on_commit("Your claim", "It is approved.", ["ana@alpha.example"])
        raise RuntimeError("the change failed")
    assert queued_mail_tasks() == [] and queued_mail() == 0


def test_a_process_set_to_send_no_mail_queues_none(
    queued_mail, settings, django_capture_on_commit_callbacks
):
    """seed_demo sets the dummy backend for its made-up people: the worker, which has the
    site's real mail settings, must not get their mail."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        mail_on_commit("Your claim", "It is approved.", ["ana@alpha.example"])
    assert callbacks == []
    assert queued_mail_tasks() == []


def test_no_recipient_queues_nothing(queued_mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        mail_on_commit("Nobody", "Nothing.", [])
        mail_on_commit("Nobody", "Nothing.", ["", ""])
    assert callbacks == []
    assert queued_mail_tasks() == []


def test_with_the_broker_down_the_caller_carries_on_and_the_loss_is_logged(
    queued_mail, broker_down, caplog, django_capture_on_commit_callbacks
):
    with (
        caplog.at_level(logging.ERROR, logger="prm.mail"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        mail_on_commit("Red flags on your partners", "Two new.", "mona@vendor.example")
    (record,) = [r for r in caplog.records if r.name == "prm.mail"]
    assert "mona@vendor.example" in record.getMessage()
    assert "Red flags on your partners" in record.getMessage()
    assert mail.outbox == []


def test_an_html_alternative_travels_with_the_text(queued_mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mail_on_commit("Reset", "Plain text.", "ana@alpha.example", html="<p>Rich</p>")
    queued_mail()
    (message,) = mail.outbox
    assert message.body == "Plain text."
    assert message.alternatives[0][:2] == ("<p>Rich</p>", "text/html")


def test_an_unreachable_mail_server_is_tried_again_then_given_up_with_a_warning(
    smtp_settings, caplog
):
    smtp_settings.EMAIL_PORT = free_port()  # nobody listens: connection refused
    message = {"subject": "Hello", "body": "Hi.", "to": ["ana@alpha.example"]}
    with caplog.at_level(logging.WARNING, logger="prm.tasks"):
        result = send_mail_task.apply(kwargs=message)
    assert result.get() == 0
    assert f"not sent after {MAIL_RETRIES + 1} tries" in caplog.text
    assert "ana@alpha.example" in caplog.text

    failing = send_mail_task.apply(kwargs={**message, "fail_silently": False})
    assert isinstance(failing.result, ConnectionRefusedError)


def test_a_silent_mail_server_times_out_after_email_timeout(smtp_settings):
    with smtp_server(greeting=None) as port:
        smtp_settings.EMAIL_PORT = port
        with pytest.raises(OSError, match="timed out"):
            mail_deliver(subject="Hello", body="Hi.", to=["ana@alpha.example"])


def test_a_mail_server_refusing_for_good_is_not_tried_again(smtp_settings, caplog):
    with smtp_server(greeting=b"554 no mail from you\r\n") as port:
        smtp_settings.EMAIL_PORT = port
        with pytest.raises(MailRefused):
            mail_deliver(subject="Hello", body="Hi.", to=["ana@alpha.example"])
        with caplog.at_level(logging.WARNING, logger="prm.tasks"):
            result = send_mail_task.apply(
                kwargs={"subject": "Hello", "body": "Hi.", "to": ["a@b.c"]}
            )
    assert (result.get(), result.info) == (0, 0)
    assert "refused" in caplog.text and "tries" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_a_queued_mail(tmp_path):
    app.control.purge()
    worker = start_worker({"TEST_EMAIL_FILE_PATH": str(tmp_path)})
    try:
        mail_on_commit("Welcome to the portal", "Your invitation.", "nora@november.example")
        assert wait_for(lambda: any(tmp_path.iterdir()), timeout=60), "no mail was written"
    finally:
        stop_worker(worker)
        app.control.purge()
    (written,) = tmp_path.iterdir()
    text = written.read_text()
    assert "Subject: Welcome to the portal" in text
    assert "To: nora@november.example" in text
