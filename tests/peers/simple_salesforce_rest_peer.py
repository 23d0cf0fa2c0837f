"""simple-salesforce (unmodified) against haul-sim's REST API: object describe, global describe,
limits, and query_all over several batches (query and queryAll). Prints one JSON line of what it
saw.

simple-salesforce builds https:// URLs for every REST call (and for `nextRecordsUrl`); the
simulator speaks plain HTTP on 127.0.0.1, so the session it is given sends those requests over
HTTP. That is transport only: the client's requests are its own.

Environment: HAUL_SIM_URL, HAUL_SIM_TOKEN, HAUL_PEER_WORKDIR.
"""
import json
import os
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

url = os.environ["HAUL_SIM_URL"]


class PlainHttp(HTTPAdapter):
    """Sends the https:// requests simple-salesforce builds to the plain-HTTP simulator."""

    def send(self, request, **kwargs):
        request.url = "http://" + request.url[len("https://"):]
        return super().send(request, **kwargs)


session = requests.Session()
session.mount(f"https://{urlparse(url).netloc}", PlainHttp())
sf = Salesforce(instance_url=url, session_id=os.environ["HAUL_SIM_TOKEN"], version="62.0",
                session=session)

# Bulk API 2.0 through simple-salesforce's own bulk2 client, so that queryAll has deleted rows to find.
sf.bulk2_url = f"{url}/services/data/v62.0/jobs/"
workdir = os.environ["HAUL_PEER_WORKDIR"]

account = sf.Account.describe()
fields = {f["name"]: f for f in account["fields"]}
everything = sf.describe()
limits = sf.limits()
before = sf.query_all("SELECT Id FROM Account")
doomed = os.path.join(workdir, "delete.csv")
with open(doomed, "w", newline="", encoding="utf-8") as f:
    f.write("Id\n" + "".join(r["Id"] + "\n" for r in before["records"][:3]))
deleted = sf.bulk2.Account.delete(doomed, wait=0)
live = sf.query_all("SELECT Id, Name, NumberOfEmployees FROM Account")
with_deleted = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)

print(json.dumps({
    "describe_name": account["name"],
    "describe_fields": len(account["fields"]),
    "billing_address_type": fields["BillingAddress"]["type"],
    "billing_city_compound": fields["BillingCity"]["compoundFieldName"],
    "global_names": sorted(o["name"] for o in everything["sobjects"]),
    "daily_api_requests": limits["DailyApiRequests"],
    "deleted_processed": int(deleted[0]["numberRecordsProcessed"]),
    "query_total": live["totalSize"],
    "query_records": len(live["records"]),
    "query_distinct_ids": len({r["Id"] for r in live["records"]}),
    "employees_are_numbers": all(isinstance(r["NumberOfEmployees"], (int, type(None)))
                                 for r in live["records"]),
    "query_all_records": len(with_deleted["records"]),
    "query_all_deleted": sum(1 for r in with_deleted["records"] if r["IsDeleted"]),
}))
