"""Reads haul's Parquet output of a Looker query with two independent readers, pyarrow and DuckDB,
and checks it against the `json` result of the same query: the column types, and every value.

Logs in to haul-sim's Looker ($LOOKER_BASE_URL, $LOOKER_CLIENT_ID, $LOOKER_CLIENT_SECRET) to create
the query, then runs `$HAUL_BIN looker run ID -o x.parquet` and `... --format json -o x.json` in
$HAUL_PEER_WORKDIR. Prints one JSON line.
"""

import datetime
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

import duckdb
import pyarrow.parquet as pq

FIELDS = [
    "order_items.id",
    "orders.status",
    "orders.created_date",
    "orders.created_time",
    "order_items.returned_date",
    "order_items.is_returned",
    "users.age",
    "order_items.count",
    "order_items.total_sale_price",
    "order_items.average_sale_price",
]

# Each reader's name of each column's type, in the metadata's order (dimensions, then measures).
PYARROW_TYPES = [
    "double",
    "string",
    "date32[day]",
    "timestamp[ms, tz=UTC]",
    "date32[day]",
    "bool",
    "double",
    "int64",
    "double",
    "double",
]
DUCKDB_TYPES = [
    "DOUBLE",
    "VARCHAR",
    "DATE",
    "TIMESTAMP WITH TIME ZONE",
    "DATE",
    "BOOLEAN",
    "DOUBLE",
    "BIGINT",
    "DOUBLE",
    "DOUBLE",
]


def api(path, data=None, token=None, form=False):
    base = os.environ["LOOKER_BASE_URL"].rstrip("/") + "/api/4.0"
    headers = {}
    body = None
    if token:
        headers["Authorization"] = "token " + token
    if data is not None and form:
        body = urllib.parse.urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def same(value, expected):
    """Whether a value read from Parquet is the JSON result's value of the same cell."""
    if expected is None or value is None:
        return expected is None and value is None
    if isinstance(value, bool):
        return value == (expected == "Yes")
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") == expected
    if isinstance(value, datetime.date):
        return value.isoformat() == expected
    if isinstance(value, (int, float)):
        return value == expected
    return value == expected


def main():
    workdir = os.environ["HAUL_PEER_WORKDIR"]
    login = api(
        "/login",
        {"client_id": os.environ["LOOKER_CLIENT_ID"], "client_secret": os.environ["LOOKER_CLIENT_SECRET"]},
        form=True,
    )
    token = login["access_token"]
    query = api(
        "/queries",
        {"model": "thelook", "view": "order_items", "fields": FIELDS, "sorts": ["order_items.id"], "limit": "2000"},
        token=token,
    )
    parquet_path = os.path.join(workdir, "items.parquet")
    json_path = os.path.join(workdir, "items.json")
    haul = os.environ["HAUL_BIN"]
    subprocess.run([haul, "-q", "looker", "run", query["id"], "-o", parquet_path], check=True)
    subprocess.run([haul, "-q", "looker", "run", query["id"], "--format", "json", "-o", json_path], check=True)
    with open(json_path, encoding="utf-8") as f:
        expected = json.load(f)

    table = pq.read_table(parquet_path)
    pyarrow_types = [str(field.type) for field in table.schema]
    names = [field.name for field in table.schema]
    duckdb_types = [row[1] for row in duckdb.sql(f"DESCRIBE SELECT * FROM '{parquet_path}'").fetchall()]
    duckdb_rows = duckdb.sql(f"SELECT * FROM '{parquet_path}'").fetchall()

    mismatches = []
    nulls = 0
    for reader, rows in (("pyarrow", [tuple(r.values()) for r in table.to_pylist()]), ("duckdb", duckdb_rows)):
        for index, (row, want) in enumerate(zip(rows, expected)):
            for name, value in zip(names, row):
                if want[name] is None:
                    nulls += reader == "pyarrow"
                if not same(value, want[name]):
                    mismatches.append([reader, index + 1, name, repr(value), want[name]])
    print(
        json.dumps(
            {
                "rows": len(expected),
                "parquet_rows": table.num_rows,
                "duckdb_rows": len(duckdb_rows),
                "names_ok": names == FIELDS,
                "pyarrow_types_ok": pyarrow_types == PYARROW_TYPES,
                "pyarrow_types": pyarrow_types,
                "duckdb_types_ok": duckdb_types == DUCKDB_TYPES,
                "duckdb_types": duckdb_types,
                "nulls": nulls,
                "mismatches": len(mismatches),
                "first_mismatches": mismatches[:10],
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
