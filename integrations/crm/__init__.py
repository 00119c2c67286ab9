"""The CRM sync: one ``Connector`` per CRM (``base``), the field mappings (``mapping``),
and the services that pull, push and keep the error queue (``services``)."""

import time
from collections.abc import Callable

from .base import Connector


def connector_class(provider: str) -> type[Connector]:
    if provider == "salesforce":
        from .salesforce import SalesforceConnector

        return SalesforceConnector
    if provider == "hubspot":
        from .hubspot import HubSpotConnector

        return HubSpotConnector
    raise ValueError(f"No connector for {provider!r}.")


def connector_for(provider: str, *, sleep: Callable[[float], None] = time.sleep) -> Connector:
    """The provider's connector with the environment's credentials (``NotConfigured``
    when they are missing)."""
    return connector_class(provider).from_environment(sleep=sleep)
