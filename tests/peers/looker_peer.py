"""looker_sdk (unmodified) against haul-sim: login, create_query, create_query_task, query_task,
query_task_results and query_task_multi_results. Prints one JSON line of what it saw.

Environment: LOOKERSDK_BASE_URL, LOOKERSDK_CLIENT_ID, LOOKERSDK_CLIENT_SECRET,
LOOKERSDK_VERIFY_SSL=false.
"""
import json
import time

import looker_sdk
from looker_sdk import models40

sdk = looker_sdk.init40()
query = sdk.create_query(models40.WriteQuery(
    model="thelook",
    view="order_items",
    fields=["users.state", "order_items.count"],
    limit="20",
))
again = sdk.create_query(models40.WriteQuery(
    model="thelook",
    view="order_items",
    fields=["users.state", "order_items.count"],
    limit="20",
))
tasks = {}
for fmt in ("csv", "json"):
    task = sdk.create_query_task(body=models40.WriteCreateQueryTask(query_id=query.id, result_format=models40.ResultFormat(fmt)))
    tasks[fmt] = task.id

statuses = {}
deadline = time.monotonic() + 30
for fmt, task_id in tasks.items():
    while True:
        status = sdk.query_task(task_id).status
        if status not in ("added", "running"):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"task {task_id} still {status}")
        time.sleep(0.05)
    statuses[fmt] = status

csv_text = sdk.query_task_results(tasks["csv"])
json_text = sdk.query_task_results(tasks["json"])
multi = sdk.query_task_multi_results([tasks["csv"], tasks["json"]])

print(json.dumps({
    "query_id": query.id,
    "same_id": again.id == query.id,
    "statuses": statuses,
    "csv_header": csv_text.splitlines()[0],
    "csv_rows": len(csv_text.splitlines()) - 1,
    "json_rows": len(json.loads(json_text)),
    "multi": {k: v["status"] for k, v in multi.items()},
}))
