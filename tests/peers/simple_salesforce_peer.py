"""simple-salesforce (unmodified) against haul-sim: bulk2 query and download over several pages,
then an insert with its three result files. Prints one JSON line of what it saw.

Environment: HAUL_SIM_URL, HAUL_SIM_TOKEN, HAUL_PEER_WORKDIR, HAUL_PAGE_SIZE.
"""
import csv
import io
import json
import os

from simple_salesforce import Salesforce

url = os.environ["HAUL_SIM_URL"]
workdir = os.environ["HAUL_PEER_WORKDIR"]
page_size = int(os.environ["HAUL_PAGE_SIZE"])

sf = Salesforce(instance_url=url, session_id=os.environ["HAUL_SIM_TOKEN"], version="62.0")
# simple-salesforce always builds https:// URLs for bulk2; point it at the plain-HTTP simulator.
sf.bulk2_url = f"{url}/services/data/v62.0/jobs/"


def data_rows(text):
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Id", "Name"], rows[0]
    return len(rows) - 1


soql = "SELECT Id, Name FROM Account"
pages = list(sf.bulk2.Account.query(soql, max_records=page_size, wait=0))
query_rows = sum(data_rows(page) for page in pages)

downloads = sf.bulk2.Account.download(soql, path=workdir, max_records=page_size, wait=0)
download_rows = 0
reported = 0
for result in downloads:
    with open(result["file"], newline="", encoding="utf-8") as f:
        download_rows += data_rows(f.read())
    reported += int(result["number_of_records"])

source = os.path.join(workdir, "insert.csv")
with open(source, "w", newline="", encoding="utf-8") as f:
    f.write('Name,NumberOfEmployees\n"Peer, Inc.",10\nPeer Two,20\n,30\nPeer Bad,many\n')
inserted = sf.bulk2.Account.insert(source, wait=0)
job = inserted[0]["job_id"]
records = sf.bulk2.Account.get_all_ingest_records(job)

print(json.dumps({
    "query_pages": len(pages),
    "query_rows": query_rows,
    "download_files": len(downloads),
    "download_rows": download_rows,
    "download_reported": reported,
    "insert_processed": int(inserted[0]["numberRecordsProcessed"]),
    "insert_failed": int(inserted[0]["numberRecordsFailed"]),
    "successful": len(records["successfulRecords"]),
    "failed": len(records["failedRecords"]),
    "unprocessed": len(records["unprocessedRecords"]),
    "failed_errors": [r["sf__Error"] for r in records["failedRecords"]],
}))
