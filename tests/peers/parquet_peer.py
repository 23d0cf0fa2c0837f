"""Reads haul's Parquet output with two independent readers, pyarrow and DuckDB, and checks it
against haul's CSV output of the same query: the column types, and every value (the CSV text parsed
by the column's type, decimals exactly, exponent notation included). The same query through the
REST API (`--api rest`) must give the same Parquet types and values as the bulk CSV.

Runs `$HAUL_BIN sf query ... -o x.parquet` and `... -o x.csv` against haul-sim
($HAUL_SIM_URL, $HAUL_SIM_TOKEN) for each query, in $HAUL_PEER_WORKDIR. Prints one JSON line.
"""

import csv
import datetime
import decimal
import json
import os
import subprocess
import sys

import duckdb
import pyarrow.parquet as pq

QUERIES = {
    "accounts": (
        "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, Description, Tax_Number__c, "
        "Discount__c, Preferred_Call_Time__c, Services__c, CreatedDate, IsDeleted, "
        "Headquarters__Latitude__s FROM Account"
    ),
    "contacts": (
        "SELECT Id, LastName, Birthdate, HasOptedOutOfEmail, Account.Name, AccountId FROM Contact"
    ),
}

# What each reader must call each column's type.
PYARROW_TYPES = {
    "accounts": {
        "Id": "string",
        "Name": "string",
        "NumberOfEmployees": "int32",
        "AnnualRevenue": "decimal128(18, 2)",
        "Description": "string",
        "Tax_Number__c": "decimal128(18, 0)",
        "Discount__c": "decimal128(5, 2)",
        "Preferred_Call_Time__c": "time32[ms]",
        "Services__c": "list<item: string>",
        "CreatedDate": "timestamp[ms, tz=UTC]",
        "IsDeleted": "bool",
        "Headquarters__Latitude__s": "decimal128(12, 9)",
    },
    "contacts": {
        "Id": "string",
        "LastName": "string",
        "Birthdate": "date32[day]",
        "HasOptedOutOfEmail": "bool",
        "Account.Name": "string",
        "AccountId": "string",
    },
}
DUCKDB_TYPES = {
    "accounts": {
        "Id": "VARCHAR",
        "Name": "VARCHAR",
        "NumberOfEmployees": "INTEGER",
        "AnnualRevenue": "DECIMAL(18,2)",
        "Description": "VARCHAR",
        "Tax_Number__c": "DECIMAL(18,0)",
        "Discount__c": "DECIMAL(5,2)",
        "Preferred_Call_Time__c": "TIME",
        "Services__c": "VARCHAR[]",
        "CreatedDate": "TIMESTAMP WITH TIME ZONE",
        "IsDeleted": "BOOLEAN",
        "Headquarters__Latitude__s": "DECIMAL(12,9)",
    },
    "contacts": {
        "Id": "VARCHAR",
        "LastName": "VARCHAR",
        "Birthdate": "DATE",
        "HasOptedOutOfEmail": "BOOLEAN",
        "Account.Name": "VARCHAR",
        "AccountId": "VARCHAR",
    },
}


def haul(soql, output, *options):
    options = options or ("--max-records", "1000")
    subprocess.run(
        [os.environ["HAUL_BIN"], "sf", "query", soql, "-o", output, *options, "--quiet"],
        check=True,
        timeout=120,
    )


def read_both(name, parquet_path, csv_rows, header):
    """The Parquet file read by pyarrow and by DuckDB: its rows, the types each reader sees, and
    every value that differs from the CSV's."""
    table = pq.read_table(parquet_path)
    pyarrow_types = {field.name: str(field.type) for field in table.schema}
    pyarrow_rows = list(zip(*(table.column(c).to_pylist() for c in table.column_names)))
    mismatches = compare(
        "pyarrow", pyarrow_rows, table.column_names, pyarrow_types, csv_rows, header
    )
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    relation = db.sql(f"SELECT * FROM read_parquet('{parquet_path}')")
    duckdb_types = {c: str(t) for c, t in zip(relation.columns, relation.types)}
    mismatches += compare(
        "duckdb", relation.fetchall(), relation.columns, duckdb_types, csv_rows, header
    )
    types_ok = pyarrow_types == PYARROW_TYPES[name] and duckdb_types == DUCKDB_TYPES[name]
    return table, pyarrow_types, duckdb_types, types_ok, mismatches


def expected(text, type_name):
    """The CSV text as a value of the column's type (None for an empty field)."""
    if text == "":
        return None
    if type_name.startswith("decimal") or type_name.startswith("DECIMAL"):
        return decimal.Decimal(text)
    if type_name in ("int32", "INTEGER"):
        return int(text)
    if type_name in ("bool", "BOOLEAN"):
        assert text in ("true", "false"), text
        return text == "true"
    if type_name.startswith("date32") or type_name == "DATE":
        return datetime.date.fromisoformat(text)
    if type_name.startswith("timestamp") or type_name.startswith("TIMESTAMP"):
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        assert value.tzinfo is not None, text
        return value
    if type_name.startswith("time32") or type_name == "TIME":
        return datetime.time.fromisoformat(text.rstrip("Z"))
    if type_name.startswith("list") or type_name.endswith("[]"):
        return text.split(";")
    return text


def same(actual, wanted):
    if isinstance(wanted, decimal.Decimal):
        # Exact: Decimal compares by value, so 1.6147805824397E13 equals 16147805824397.
        return isinstance(actual, decimal.Decimal) and actual == wanted
    return actual == wanted and type(actual) is type(wanted)


def compare(reader, rows, columns, types, csv_rows, header):
    mismatches = []
    if len(rows) != len(csv_rows):
        mismatches.append(f"{reader}: {len(rows)} rows, CSV {len(csv_rows)}")
    for index, (row, csv_row) in enumerate(zip(rows, csv_rows)):
        for name, actual in zip(columns, row):
            text = csv_row[header.index(name)]
            wanted = expected(text, types[name])
            if not same(actual, wanted):
                mismatches.append(f"{reader} row {index + 1} {name}: {actual!r} != CSV {text!r}")
    return mismatches


def check(name, soql, workdir):
    parquet_path = os.path.join(workdir, f"{name}.parquet")
    csv_path = os.path.join(workdir, f"{name}.csv")
    haul(soql, parquet_path)
    haul(soql, csv_path)
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        csv_rows = list(reader)

    table, pyarrow_types, duckdb_types, _, mismatches = read_both(
        name, parquet_path, csv_rows, header
    )
    rest_path = os.path.join(workdir, f"{name}-rest.parquet")
    haul(soql, rest_path, "--api", "rest")
    rest_table, _, _, rest_types_ok, rest_mismatches = read_both(
        name, rest_path, csv_rows, header
    )
    multi_line = sum(1 for row in csv_rows for v in row if "\n" in v)
    exponent = sum(1 for row in csv_rows for v in row if "E" in v and v.replace("E", "").replace(".", "").isdigit())
    return {
        "rows": len(csv_rows),
        "parquet_rows": table.num_rows,
        "header": header,
        "pyarrow_types": pyarrow_types,
        "duckdb_types": duckdb_types,
        "pyarrow_types_ok": pyarrow_types == PYARROW_TYPES[name],
        "duckdb_types_ok": duckdb_types == DUCKDB_TYPES[name],
        "row_groups": pq.ParquetFile(parquet_path).num_row_groups,
        "multi_line_values": multi_line,
        "exponent_values": exponent,
        "mismatches": len(mismatches),
        "first_mismatches": mismatches[:10],
        "rest_parquet_rows": rest_table.num_rows,
        "rest_types_ok": rest_types_ok,
        "rest_mismatches": len(rest_mismatches),
        "first_rest_mismatches": rest_mismatches[:10],
    }


def main():
    workdir = os.environ["HAUL_PEER_WORKDIR"]
    seen = {name: check(name, soql, workdir) for name, soql in QUERIES.items()}
    print(json.dumps(seen))


if __name__ == "__main__":
    sys.exit(main())
