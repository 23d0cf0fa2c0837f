"""The Databricks SDK for Python (unmodified) against haul-sim's SQL Statement Execution API.

With a personal access token and with OAuth machine-to-machine: execute_statement (INLINE
JSON_ARRAY; EXTERNAL_LINKS with CSV and ARROW_STREAM, each chunk's link fetched with requests and
without the Authorization header, as Databricks documents, the next chunks through
get_statement_result_chunk_n), get_statement, cancel_execution, a typed parameter, and failing statements. Prints one
JSON line of what it saw.

Environment (not the SDK's own DATABRICKS_* names, so that the SDK sees only what it is given):
HAUL_DBX_HOST, HAUL_DBX_TOKEN, HAUL_DBX_CLIENT_ID, HAUL_DBX_CLIENT_SECRET, HAUL_DBX_WAREHOUSE.
"""
import csv
import io
import json
import os
import time

import pyarrow as pa
import pyarrow.ipc
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import Disposition, Format, StatementParameterListItem, StatementState

HOST = os.environ["HAUL_DBX_HOST"]
WAREHOUSE = os.environ["HAUL_DBX_WAREHOUSE"]
pat = WorkspaceClient(host=HOST, token=os.environ["HAUL_DBX_TOKEN"])
oauth = WorkspaceClient(
    host=HOST,
    client_id=os.environ["HAUL_DBX_CLIENT_ID"],
    client_secret=os.environ["HAUL_DBX_CLIENT_SECRET"],
)
ORDERS = "SELECT * FROM main.sales.orders"


def links(w, response):
    """Every chunk's external link, in order: the first from the response, the rest by index."""
    out = []
    link = response.result.external_links[0]
    while True:
        out.append(link)
        if link.next_chunk_index is None:
            return out
        data = w.statement_execution.get_statement_result_chunk_n(response.statement_id, link.next_chunk_index)
        link = data.external_links[0]


def download(link):
    """A chunk's bytes: the link's own headers, never the workspace's Authorization."""
    r = requests.get(link.external_link, headers=link.http_headers or {}, timeout=30)
    r.raise_for_status()
    assert len(r.content) == link.byte_count, (len(r.content), link.byte_count)
    return r.content


def inline(w):
    r = w.statement_execution.execute_statement(
        statement="SELECT order_id, amount, note FROM orders WHERE order_id < :max_id",
        warehouse_id=WAREHOUSE,
        parameters=[StatementParameterListItem(name="max_id", value="9007199254741003", type="BIGINT")],
        catalog="main",
        schema="sales",
        wait_timeout="10s",
    )
    rows = list(r.result.data_array or [])
    chunk = r.result
    while chunk.next_chunk_index is not None:
        chunk = w.statement_execution.get_statement_result_chunk_n(r.statement_id, chunk.next_chunk_index)
        rows.extend(chunk.data_array)
    columns = [(c.name, c.type_name.value, c.type_text) for c in r.manifest.schema.columns]
    return r, rows, columns


def csv_links(w):
    r = w.statement_execution.execute_statement(
        statement=ORDERS, warehouse_id=WAREHOUSE, disposition=Disposition.EXTERNAL_LINKS, format=Format.CSV,
        wait_timeout="10s",
    )
    chunks = links(w, r)
    texts = [download(link).decode("utf-8") for link in chunks]
    records = [list(csv.reader(io.StringIO(text, newline=""))) for text in texts]
    headers_in = [i for i, rows in enumerate(records) if rows and rows[0][0] == "order_id"]
    body = records[0][1:] + [row for rows in records[1:] for row in rows]
    return r, chunks, headers_in, records[0][0], body


def arrow_links(w):
    r = w.statement_execution.execute_statement(
        statement=ORDERS + " WHERE paid = TRUE", warehouse_id=WAREHOUSE,
        disposition=Disposition.EXTERNAL_LINKS, format=Format.ARROW_STREAM, wait_timeout="10s",
    )
    chunks = links(w, r)
    tables = [pa.ipc.open_stream(download(link)).read_all() for link in chunks]
    table = pa.concat_tables(tables)
    return r, chunks, table


seen = {}

r, rows, columns = inline(pat)
seen["inline_state"] = r.status.state.value
seen["inline_rows"] = len(rows)
seen["inline_total"] = r.manifest.total_row_count
seen["inline_chunks"] = r.manifest.total_chunk_count
seen["inline_columns"] = columns
seen["inline_first"] = rows[0]
seen["inline_comma"] = rows[1][2]
seen["inline_newline"] = rows[3][2]

r, chunks, headers_in, header, body = csv_links(pat)
seen["csv_chunks"] = len(chunks)
seen["csv_manifest_chunks"] = r.manifest.total_chunk_count
seen["csv_rows"] = len(body)
seen["csv_total"] = r.manifest.total_row_count
seen["csv_headers_in"] = headers_in
seen["csv_header"] = header
seen["csv_row_counts_match"] = sum(c.row_count for c in chunks) == len(body)
seen["csv_quoted"] = body[6][7]
seen["csv_null"] = body[0][7]
seen["csv_decimal"] = body[1][2]

probe = chunks[0]
seen["with_authorization"] = requests.get(
    probe.external_link, headers={"Authorization": "Bearer " + os.environ["HAUL_DBX_TOKEN"]}, timeout=30
).status_code

r, chunks, table = arrow_links(oauth)
seen["arrow_chunks"] = len(chunks)
seen["arrow_rows"] = table.num_rows
seen["arrow_total"] = r.manifest.total_row_count
seen["arrow_types"] = {f.name: str(f.type) for f in table.schema}
seen["arrow_paid_all_true"] = all(table.column("paid").to_pylist())

got = pat.statement_execution.get_statement(r.statement_id)
seen["get_state"] = got.status.state.value
seen["get_total"] = got.manifest.total_row_count

slow = pat.statement_execution.execute_statement(statement=ORDERS, warehouse_id=WAREHOUSE, wait_timeout="0s")
seen["async_state"] = slow.status.state.value
pat.statement_execution.cancel_execution(slow.statement_id)
deadline = time.monotonic() + 30
while True:
    state = pat.statement_execution.get_statement(slow.statement_id).status.state
    if state not in (StatementState.PENDING, StatementState.RUNNING) or time.monotonic() > deadline:
        break
    time.sleep(0.1)
seen["canceled_state"] = state.value
seen["canceled_id"] = slow.statement_id

bad = oauth.statement_execution.execute_statement(
    statement="SELECT * FROM main.sales.nope", warehouse_id=WAREHOUSE, wait_timeout="10s"
)
seen["missing_state"] = bad.status.state.value
seen["missing_code"] = bad.status.error.error_code.value
seen["missing_message"] = bad.status.error.message
syntax = pat.statement_execution.execute_statement(statement="SELEC 1", warehouse_id=WAREHOUSE, wait_timeout="10s")
seen["syntax_state"] = syntax.status.state.value
seen["syntax_message"] = syntax.status.error.message

print(json.dumps(seen))
