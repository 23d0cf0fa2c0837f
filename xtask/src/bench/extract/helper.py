"""The extract benchmark's Python side (run with the peers' venv, which has pyarrow):

  catalog DISCOVER_OUT OBJECTS OUT           the configured catalog: OBJECTS (comma-separated) in
                                             incremental mode on their default cursor, Id as key
  state AIRBYTE_OUT OUT                      the last STATE message of each stream, as --state takes it
  updates LAKE RUN_ID OUTDIR TEXT OBJ=FIELD,...
                                             a CSV of every hundredth Id (sorted) of each object's
                                             rows landed by haul's run, with FIELD set to TEXT
  compare LAKE RUN_ID AIRBYTE_OUT OBJECTS    per object: haul's rows of the run against Airbyte's
                                             RECORD messages, by (Id, SystemModstamp)
  versions                                   the installed connector's and CDK's versions

Airbyte's output is read line by line from its file, never whole.
"""

import csv
import json
import pathlib
import sys
from datetime import datetime


def catalog(discover_out, objects, out):
    names = objects.split(",")
    found = None
    with open(discover_out) as lines:
        for line in lines:
            message = json.loads(line) if line.startswith("{") else {}
            if message.get("type") == "CATALOG":
                found = message["catalog"]
    if found is None:
        sys.exit("discover printed no CATALOG message")
    streams = [
        {
            "stream": stream,
            "sync_mode": "incremental",
            "destination_sync_mode": "append_dedup",
            "cursor_field": stream["default_cursor_field"],
            "primary_key": stream["source_defined_primary_key"],
        }
        for stream in found["streams"]
        if stream["name"] in names
    ]
    missing = set(names) - {s["stream"]["name"] for s in streams}
    if missing:
        sys.exit(f"discover has no stream for {sorted(missing)}")
    pathlib.Path(out).write_text(json.dumps({"streams": streams}))


def state(airbyte_out, out):
    last = {}
    with open(airbyte_out) as lines:
        for line in lines:
            if not line.startswith('{"type":"STATE"'):
                continue
            message = json.loads(line)["state"]
            key = json.dumps(message.get("stream", {}).get("stream_descriptor"), sort_keys=True)
            last[key] = message
    pathlib.Path(out).write_text(json.dumps(list(last.values())))


def haul_rows(lake, run_id, obj):
    """{Id: SystemModstamp in ms} of the rows haul's run landed for obj, and the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, count = {}, 0
    for part in sorted(pathlib.Path(lake, obj, f"run={run_id}").glob("w*/*.parquet")):
        table = pq.read_table(part, columns=["Id", "SystemModstamp"])
        stamps = table["SystemModstamp"].cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
        for record_id, stamp in zip(table["Id"].to_pylist(), stamps.to_pylist()):
            rows[record_id] = max(stamp, rows.get(record_id, stamp))
            count += 1
    return rows, count


def updates(lake, run_id, outdir, text, pairs):
    made = {}
    for pair in pairs.split(","):
        obj, field = pair.split("=")
        ids = sorted(haul_rows(lake, run_id, obj)[0])[::100]
        path = pathlib.Path(outdir, f"{obj}.csv")
        with open(path, "w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["Id", field])
            writer.writerows([record_id, text] for record_id in ids)
        made[obj] = {"path": str(path), "rows": len(ids)}
    print(json.dumps(made))


def millis(text):
    """A SystemModstamp as Airbyte emits it (`...Z`, `+00:00` or `+0000`), in ms since the epoch."""
    text = text.replace("Z", "+00:00")
    if text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def compare(lake, run_id, airbyte_out, objects):
    names = objects.split(",")
    theirs = {name: {} for name in names}
    records = {name: 0 for name in names}
    errors = []
    with open(airbyte_out) as lines:
        for line in lines:
            if line.startswith('{"type":"RECORD"'):
                record = json.loads(line)["record"]
                name, data = record["stream"], record["data"]
                if name in theirs:
                    stamp = millis(data["SystemModstamp"])
                    seen = theirs[name]
                    seen[data["Id"]] = max(stamp, seen.get(data["Id"], stamp))
                    records[name] += 1
            elif line.startswith('{"type":"TRACE"'):
                trace = json.loads(line)["trace"]
                if trace.get("type") == "ERROR":
                    errors.append(trace["error"].get("message", ""))
    result = {"errors": errors, "objects": {}}
    for name in names:
        ours, count = haul_rows(lake, run_id, name)
        seen = theirs[name]
        result["objects"][name] = {
            "haul_rows": count,
            "haul_ids": len(ours),
            "airbyte_records": records[name],
            "airbyte_ids": len(seen),
            "missing": len(ours.keys() - seen.keys()),
            "extra": len(seen.keys() - ours.keys()),
            "different": sum(1 for i in ours.keys() & seen.keys() if ours[i] != seen[i]),
        }
    print(json.dumps(result))


def versions():
    from importlib.metadata import version

    print(json.dumps({name: version(name) for name in ["airbyte-source-salesforce", "airbyte-cdk"]}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"catalog": catalog, "state": state, "updates": updates, "compare": compare, "versions": versions}[command](*args)
