"""Factories of the work side: a connection to the ConnectWise simulator."""

import factory

from operations.models import ConnectWiseConnection
from simulators.connectwise.server import (
    CODEBASE,
    DEMO_CLIENT_ID,
    DEMO_COMPANY_ID,
    DEMO_PRIVATE_KEY,
    DEMO_PUBLIC_KEY,
)


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectWiseConnection

    site_url = "http://127.0.0.1:9"
    company_id = DEMO_COMPANY_ID
    company_name = "Lighthouse IT"
    codebase = CODEBASE
    public_key = DEMO_PUBLIC_KEY
    private_key = DEMO_PRIVATE_KEY
    client_id = DEMO_CLIENT_ID
