"""An unreachable database answers 503 with Retry-After and a message, never 500: in the
API's error shape under /api/, as a plain page elsewhere. (The live server test in
test_service_outages.py restarts a real database; these pin the answers themselves.)"""

import json

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import RequestFactory

from prm.errors import DatabaseUnavailableMiddleware, server_error

middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse())


def test_the_api_answers_503_in_its_error_shape():
    request = RequestFactory().post("/api/v1/deals/")
    response = middleware.process_exception(
        request, OperationalError("server closed the connection unexpectedly")
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = json.loads(response.content)
    assert body["code"] == "unavailable" and "nothing was saved" in body["detail"]


def test_a_page_answers_503_with_a_plain_page():
    request = RequestFactory().get("/portal/deals/")
    response = middleware.process_exception(request, InterfaceError("connection already closed"))
    assert response.status_code == 503
    assert b"briefly unavailable" in response.content


def test_other_errors_are_left_to_the_500_handler():
    request = RequestFactory().get("/portal/deals/")
    assert middleware.process_exception(request, ValueError("a bug")) is None


def test_a_database_error_outside_a_view_is_a_503_too():
    """Raised by a middleware (the session, the user), it reaches handler500."""
    request = RequestFactory().get("/api/v1/deals/")
    try:
        raise OperationalError("could not connect to server")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(request).status_code == 500
