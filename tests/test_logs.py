"""Logs that say which request they belong to (prm.logs): the request id in and out of the
X-Request-ID header, the request and user ids on every record, carried into the tasks a
request sends, and production's JSON lines."""

import json
import logging
import logging.config
import re
import secrets
from types import SimpleNamespace

import pytest
import redis
from django.conf import settings

from partners.services import api_token_issue
from prm import logs
from prm.celery import app
from prm.settings.base import logging_config

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


@app.task(name="tests.logs.noop")
def noop():
    return None


class Collected(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(logs.RequestContextFilter())

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collected():
    """Every record from every logger, through the filter the configured handler uses."""
    handler = Collected()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


@pytest.fixture(autouse=True)
def _no_context():
    logs.context_clear()
    yield
    logs.context_clear()


# ---------------------------------------------------------------- the header


def test_a_sane_incoming_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID="lb-7f3a.2_c")
    assert response["X-Request-ID"] == "lb-7f3a.2_c"


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 65, "has space", "evil\r\nSet-Cookie:a=b", "émoji", "semi;colon", "a/b"],
)
def test_an_unusable_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID=incoming)
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_each_request_without_one_gets_a_fresh_id(client):
    first, second = client.get("/healthz/"), client.get("/healthz/")
    assert GENERATED.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_refused_request_carries_its_id_too(client):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-404"


# ---------------------------------------------------------------- records


def test_a_signed_in_requests_log_lines_carry_its_id_and_the_user(client, a_rep, collected):
    client.force_login(a_rep)
    response = client.get("/portal/deals/987654/", HTTP_X_REQUEST_ID="req-portal-1")
    assert response.status_code == 404
    # Django's own warning about the 404, written after the response left the middleware.
    [record] = [r for r in collected if r.name == "django.request"]
    assert (record.request_id, record.user_id) == ("req-portal-1", a_rep.pk)


def test_an_api_token_users_log_lines_carry_the_user(api, a_rep, collected):
    _, key = api_token_issue(user=a_rep)
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/deals/987654/", HTTP_X_REQUEST_ID="req-api-1")
    assert response.status_code == 404
    [record] = [r for r in collected if r.name == "django.request"]
    assert (record.request_id, record.user_id) == ("req-api-1", a_rep.pk)


def test_an_anonymous_requests_log_lines_carry_no_user(client, collected):
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-anon")
    [record] = [r for r in collected if r.name == "django.request"]
    assert (record.request_id, record.user_id) == ("req-anon", None)


def test_lines_outside_a_request_carry_empty_ids(client, collected):
    client.get("/healthz/")
    logging.getLogger("prm.test").warning("after the request")
    assert (collected[-1].request_id, collected[-1].user_id) == (None, None)


def test_the_configured_handler_adds_the_ids():
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert any(isinstance(f, logs.RequestContextFilter) for f in handler.filters)


# ---------------------------------------------------------------- formats


def _formatted(log_format: str) -> str:
    logging.config.dictConfig(logging_config(log_format, "INFO"))
    try:
        [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
        record = logging.LogRecord(
            "deals.services", logging.WARNING, __file__, 1, "%s late", ("3",), None
        )
        logs.context_set("req-json", 42)
        assert handler.filter(record)
        return handler.format(record)
    finally:
        logging.config.dictConfig(settings.LOGGING)


def test_json_lines_have_the_expected_keys():
    line = json.loads(_formatted("json"))
    assert line["level"] == "WARNING"
    assert line["logger"] == "deals.services"
    assert line["message"] == "3 late"
    assert (line["request_id"], line["user_id"]) == ("req-json", 42)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line["timestamp"])


def test_plain_text_for_a_terminal():
    line = _formatted("text")
    assert "WARNING deals.services [request req-json user 42] 3 late" in line


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config("xml", "INFO")


# ---------------------------------------------------------------- into the tasks


@pytest.fixture
def broker():
    app.control.purge()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield client
    app.control.purge()
    client.close()


def test_a_task_sent_during_a_request_carries_its_id_through_the_broker(broker):
    logs.context_set("req-task-1", 7)
    noop.delay()
    [raw] = broker.lrange("celery", 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == "tests.logs.noop"
    assert message["headers"][logs.TASK_HEADER] == "req-task-1"


def test_a_task_sent_outside_a_request_carries_none(broker):
    noop.delay()
    [raw] = broker.lrange("celery", 0, -1)
    assert logs.TASK_HEADER not in json.loads(raw)["headers"]


def test_the_publish_hook_adds_the_id_to_the_headers():
    headers = {"task": "x"}
    logs.task_headers_add(headers=headers)
    assert logs.TASK_HEADER not in headers
    logs.context_set("req-h")
    logs.task_headers_add(headers=headers)
    assert headers[logs.TASK_HEADER] == "req-h"


def test_the_worker_takes_the_id_for_the_task_and_drops_it_after():
    task_id = secrets.token_hex(8)
    task = SimpleNamespace(request=SimpleNamespace(request_id="req-worker-1", headers=None))
    logs.task_context_enter(task_id=task_id, task=task)
    assert logs.current().request_id == "req-worker-1"
    logs.task_context_leave(task_id=task_id)
    assert logs.current() is None


def test_the_worker_ignores_an_unusable_id():
    task = SimpleNamespace(request=SimpleNamespace(request_id="bad id\n", headers=None))
    logs.task_context_enter(task_id="t1", task=task)
    assert logs.current() is None
    logs.task_context_leave(task_id="t1")


def test_a_task_run_eagerly_inside_a_request_keeps_the_requests_context():
    logs.context_set("req-eager", 3)
    noop.apply()
    assert (logs.current().request_id, logs.current().user_id) == ("req-eager", 3)
