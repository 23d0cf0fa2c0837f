"""Runs Airbyte's Salesforce source (`source-salesforce`) against haul-sim: the only change is its
hard-wired login host. `Salesforce._perform_login` posts the refresh-token grant to the literal
`https://login.salesforce.com/services/oauth2/token` (`https://test.salesforce.com` for sandboxes);
every later request goes to the `instance_url` that the token answer names. So each requests
session it makes gets one transport adapter, mounted for that login host only, that sends the
request to the simulator instead. Nothing else of the connector is touched.

Usage: python launch_airbyte.py SIM_URL <source-salesforce arguments>
"""

import sys

import requests
from requests.adapters import HTTPAdapter

LOGIN_HOST = "https://login.salesforce.com"
SIM = sys.argv.pop(1).rstrip("/")


class LoginHostToSim(HTTPAdapter):
    def send(self, request, **kwargs):
        request.url = SIM + request.url[len(LOGIN_HOST):]
        return super().send(request, **kwargs)


_session_init = requests.Session.__init__


def _init(self, *args, **kwargs):
    _session_init(self, *args, **kwargs)
    self.mount(LOGIN_HOST + "/", LoginHostToSim())


requests.Session.__init__ = _init

from source_salesforce.run import run  # noqa: E402  (after the patch, as the entry point would)

sys.argv[0] = "source-salesforce"
run()
