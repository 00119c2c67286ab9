"""Recorded CRM answers (tests/data/crm/, shaped like Salesforce's REST API and HubSpot's
CRM v3 answers) and connectors that send to ``responses`` instead of the network."""

import json
from pathlib import Path

from integrations.crm.base import CrmSession
from integrations.crm.hubspot import HubSpotConnector
from integrations.crm.salesforce import SalesforceConnector

DATA = Path(__file__).parent / "data" / "crm"
SF = "https://acme.my.salesforce.com"
SF_API = f"{SF}/services/data/v62.0"
SF_TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"
HS = "https://api.hubapi.com"
HS_TOKEN_URL = f"{HS}/oauth/v1/token"
OLD_TOKEN = "00D5g000004XyZ!AQ0AQOLDTOKEN"
NEW_SF_TOKEN = "00D5g000004XyZ!AQ0AQNEWTOKEN"


def load(name: str):
    return json.loads((DATA / f"{name}.json").read_text())


class Waits(list):
    """A ``sleep`` that records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def salesforce(token: str = OLD_TOKEN) -> SalesforceConnector:
    session = CrmSession(token=token, sleep=Waits(), max_wait=60)
    return SalesforceConnector(
        session=session,
        instance_url=SF,
        client_id="3MVG9prm",
        client_secret="sf-secret",
        refresh_token="5Aep861prm",
    )


def hubspot(token: str = "pat-na1-old", *, oauth: bool = True) -> HubSpotConnector:
    session = CrmSession(token=token, sleep=Waits(), max_wait=60)
    return HubSpotConnector(
        session=session,
        client_id="hs-client" if oauth else "",
        client_secret="hs-secret" if oauth else "",
        refresh_token="hs-refresh" if oauth else "",
    )


def body(call) -> dict:
    return json.loads(call.request.body)
