"""The webhooks API (/api/v1/webhooks/, /api/v1/webhook-deliveries/): scoped like every
endpoint (another partner's subscription is a 404), read-only roles read without the secret,
bad input is a 400 that says why, and the lists' query counts do not grow with their rows."""

import pytest

from integrations import services
from integrations.models import DeliveryStatus, EventKind, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/prm"


def subscribe(partner, url=URL, **kwargs) -> WebhookSubscription:
    return services.webhook_subscription_create(partner=partner, url=url, by=None, **kwargs)


def deliveries(subscription, count: int, status=DeliveryStatus.FAILED) -> list[WebhookDelivery]:
    rows = []
    for _ in range(count):
        event = services.event_publish(
            partner_id=subscription.partner_id, kind=EventKind.DEAL_WON, data={}
        )
        rows.append(
            WebhookDelivery.objects.create(
                subscription=subscription, event=event, status=status, attempts=6
            )
        )
    return rows


def test_a_partner_admin_subscribes_for_their_own_partner_and_gets_the_secret(
    api, a_admin, partner_a
):
    response = api(a_admin).post(
        "/api/v1/webhooks/",
        {"url": URL, "events": ["deal.won", "tier.changed"], "description": "CRM"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["partner"] == partner_a.pk and body["secret"].startswith("whsec_")
    assert body["events"] == ["deal.won", "tier.changed"] and body["is_active"] is True
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret == body["secret"] and subscription.created_by == a_admin
    # Read again: no secret in the subscription, only where asked for.
    detail = api(a_admin).get(f"/api/v1/webhooks/{subscription.pk}/").json()
    assert "secret" not in detail
    secret = api(a_admin).get(f"/api/v1/webhooks/{subscription.pk}/secret/").json()
    assert secret == {"secret": subscription.secret}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "not an address"}, "url", "Enter a valid URL."),
        ({"url": URL, "events": ["deal.invented"]}, "events", "Unknown event kind: deal.invented"),
        ({"url": URL, "events": "deal.won"}, "events", "Expected a list"),
        ({"events": ["deal.won"]}, "url", "required"),
    ],
)
def test_bad_input_is_a_400_that_says_why(api, a_admin, partner_a, body, field, message):
    response = api(a_admin).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not WebhookSubscription.objects.exists()


def test_an_unsafe_address_is_a_400_under_production_settings(api, a_admin, partner_a, settings):
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    client = api(a_admin)
    plain = client.post("/api/v1/webhooks/", {"url": "http://hooks.example.com/"}, format="json")
    assert plain.status_code == 400
    assert plain.json() == {"url": ["The address must start with https://."]}
    loopback = client.post("/api/v1/webhooks/", {"url": "https://127.0.0.1/x"}, format="json")
    assert loopback.status_code == 400
    assert "private or loopback" in loopback.json()["url"][0]


def test_a_partner_user_gets_404_for_another_partners_subscription(
    api, a_admin, partner_a, partner_b
):
    theirs = subscribe(partner_b)
    [delivery] = deliveries(theirs, 1)
    client = api(a_admin)
    for method, path in [
        ("get", f"/api/v1/webhooks/{theirs.pk}/"),
        ("get", f"/api/v1/webhooks/{theirs.pk}/secret/"),
        ("get", f"/api/v1/webhooks/{theirs.pk}/deliveries/"),
        ("patch", f"/api/v1/webhooks/{theirs.pk}/"),
        ("delete", f"/api/v1/webhooks/{theirs.pk}/"),
        ("post", f"/api/v1/webhooks/{theirs.pk}/rotate-secret/"),
        ("get", f"/api/v1/webhook-deliveries/{delivery.pk}/"),
        ("post", f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/"),
    ]:
        response = getattr(client, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    assert client.get("/api/v1/webhooks/").json()["results"] == []
    assert client.get("/api/v1/webhook-deliveries/").json()["results"] == []
    # Naming the other partner is refused on that field.
    response = client.post(
        "/api/v1/webhooks/", {"url": URL, "partner": partner_b.pk}, format="json"
    )
    assert response.status_code == 400 and set(response.json()) == {"partner"}


def test_a_rep_sees_no_subscription_and_creates_none(api, a_rep, partner_a):
    mine = subscribe(partner_a)
    client = api(a_rep)
    assert client.get("/api/v1/webhooks/").json()["results"] == []
    assert client.get(f"/api/v1/webhooks/{mine.pk}/").status_code == 404
    assert client.post("/api/v1/webhooks/", {"url": URL}, format="json").status_code == 403


def test_a_manager_manages_only_their_partners_and_never_the_vendors(
    api, manager, partner_a, partner_b
):
    mine, theirs, vendor = subscribe(partner_a), subscribe(partner_b), subscribe(None)
    client = api(manager)
    listed = {row["id"] for row in client.get("/api/v1/webhooks/").json()["results"]}
    assert listed == {mine.pk}
    assert client.get(f"/api/v1/webhooks/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/v1/webhooks/{vendor.pk}/").status_code == 404
    made = client.post("/api/v1/webhooks/", {"url": URL, "partner": partner_a.pk}, format="json")
    assert made.status_code == 201
    other = client.post("/api/v1/webhooks/", {"url": URL, "partner": partner_b.pk}, format="json")
    assert other.status_code == 400 and set(other.json()) == {"partner"}
    everyone = client.post("/api/v1/webhooks/", {"url": URL}, format="json")
    assert everyone.status_code == 400
    assert "channel chief" in everyone.json()["partner"][0]
    off = client.patch(f"/api/v1/webhooks/{mine.pk}/", {"is_active": False}, format="json")
    assert off.status_code == 200 and off.json()["is_active"] is False


def test_a_chief_subscribes_for_the_vendor(api, chief, partner_a):
    response = api(chief).post("/api/v1/webhooks/", {"url": URL}, format="json")
    assert response.status_code == 201 and response.json()["partner"] is None


@pytest.mark.parametrize("who", ["executive", "finance"])
def test_read_only_roles_read_every_subscription_but_not_its_secret(
    who, request, api, partner_a, partner_b
):
    user = request.getfixturevalue(who)
    subscriptions = [subscribe(partner_a), subscribe(partner_b), subscribe(None)]
    [delivery] = deliveries(subscriptions[0], 1)
    client = api(user)
    listed = {row["id"] for row in client.get("/api/v1/webhooks/").json()["results"]}
    assert listed == {s.pk for s in subscriptions}
    pk = subscriptions[0].pk
    assert client.get(f"/api/v1/webhooks/{pk}/secret/").status_code == 403
    assert (
        client.patch(f"/api/v1/webhooks/{pk}/", {"is_active": False}, format="json").status_code
        == 403
    )
    assert client.post(f"/api/v1/webhooks/{pk}/rotate-secret/").status_code == 403
    assert client.delete(f"/api/v1/webhooks/{pk}/").status_code == 403
    assert client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/").status_code == 403
    assert client.post("/api/v1/webhooks/", {"url": URL}, format="json").status_code == 403
    assert WebhookSubscription.objects.filter(is_active=True).count() == 3


def test_rotating_gives_a_new_secret_and_deleting_takes_the_log(api, a_admin, partner_a):
    subscription = subscribe(partner_a)
    deliveries(subscription, 2)
    client = api(a_admin)
    rotated = client.post(f"/api/v1/webhooks/{subscription.pk}/rotate-secret/")
    assert rotated.status_code == 200
    subscription.refresh_from_db()
    assert rotated.json()["secret"] == subscription.secret != subscription.previous_secret
    assert client.delete(f"/api/v1/webhooks/{subscription.pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_delivery_log_and_a_redelivery(api, a_admin, partner_a):
    subscription = subscribe(partner_a)
    failed, delivered = deliveries(subscription, 2)
    WebhookDelivery.objects.filter(pk=delivered.pk).update(
        status=DeliveryStatus.SUCCEEDED, response_status=200
    )
    client = api(a_admin)
    log = client.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").json()
    assert log["count"] == 2
    row = next(r for r in log["results"] if r["id"] == delivered.pk)
    assert row["webhook_id"] == str(delivered.event.public_id)
    assert (row["event_type"], row["status"], row["response_status"]) == (
        "deal.won",
        "succeeded",
        200,
    )
    only_failed = client.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/?status=failed").json()
    assert [r["id"] for r in only_failed["results"]] == [failed.pk]
    response = client.post(f"/api/v1/webhook-deliveries/{failed.pk}/redeliver/")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    again = client.post(f"/api/v1/webhook-deliveries/{failed.pk}/redeliver/")
    assert again.status_code == 400
    assert again.json()["code"] == "delivery_under_way"
    assert "still under way" in again.json()["detail"]


@pytest.mark.parametrize("rows", [3, 30])
def test_list_query_counts_do_not_grow_with_rows(
    rows, api, chief, partner_a, django_assert_max_num_queries
):
    subscription = subscribe(partner_a)
    for _ in range(rows - 1):
        subscribe(partner_a)
    deliveries(subscription, rows)
    client = api(chief)
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/webhooks/").json()["count"] == rows
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/webhook-deliveries/").json()["count"] == rows
    with django_assert_max_num_queries(7):
        page = client.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").json()
        assert page["count"] == rows


def test_the_schema_documents_every_event_kinds_payload():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)  # a valid OpenAPI 3.0 document
    documented = schema["x-webhooks"]
    assert set(documented) == set(EventKind.values)
    body = documented["tier.changed"]["post"]["requestBody"]["content"]["application/json"]
    envelope = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(envelope["properties"]) == {"type", "timestamp", "data"}
    reference = envelope["properties"]["data"]
    reference = reference.get("$ref") or reference["allOf"][0]["$ref"]
    data = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert {"partner_id", "from_tier", "to_tier", "cause"} <= set(data["properties"])
    for path in ("/api/v1/webhooks/", "/api/v1/webhooks/{id}/deliveries/"):
        assert path in schema["paths"]
