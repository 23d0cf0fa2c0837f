#!/usr/bin/env bash
# Serving speed of haul-sim result pages on loopback: 8 result pages (500 000 rows each) of a
# 4 000 000-row Account query, fetched by 8 parallel curl processes to /dev/null, profile off.
# Usage: cargo build --release -p haul-sim && crates/sim/bench/serve_speed.sh [port]
# Prints each page's size and time, then the aggregate rate.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PORT=${1:-8799}
READY=$(mktemp)
target/release/haul-sim --addr "127.0.0.1:$PORT" --rows Account=4000000 --job-seconds 0 > "$READY" &
SIM=$!
trap 'kill $SIM; rm -f "$READY"' EXIT
for _ in $(seq 100); do [ -s "$READY" ] && break; sleep 0.1; done
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
TOKEN=$(json 'd["access_token"]' < "$READY")
API="http://127.0.0.1:$PORT/services/data/v62.0"
AUTH="Authorization: Bearer $TOKEN"
SOQL='SELECT Id, Name, Industry, NumberOfEmployees, AnnualRevenue, BillingCity, CreatedDate FROM Account'
JOB=$(curl -sf -X POST "$API/jobs/query" -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"operation\":\"query\",\"query\":\"$SOQL\"}" | json 'd["id"]')
for _ in $(seq 100); do
  [ "$(curl -sf "$API/jobs/query/$JOB" -H "$AUTH" | json 'd["state"]')" = JobComplete ] && break
  sleep 0.1
done
links() { json '" ".join(p["resultLink"] for p in d["resultPages"])'; }
FIRST=$(curl -sf "$API/jobs/query/$JOB/resultPages?maxRecords=500000" -H "$AUTH")
NEXT=$(echo "$FIRST" | json 'd["nextRecordsUrl"]')
LINKS="$(echo "$FIRST" | links) $(curl -sf "$API$NEXT" -H "$AUTH" | links)"
OUT=$(mktemp)
START=$(date +%s.%N)
PIDS=()
for LINK in $LINKS; do
  curl -sf -o /dev/null -H "$AUTH" -w '%{size_download} %{time_total}\n' "$API$LINK" >> "$OUT" &
  PIDS+=($!)
done
wait "${PIDS[@]}"
END=$(date +%s.%N)
cat "$OUT"
python3 - "$START" "$END" "$OUT" <<'PY'
import sys
start, end, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
sizes = [int(line.split()[0]) for line in open(out)]
print(f"pages={len(sizes)} bytes={sum(sizes)} wall={end - start:.3f}s aggregate={sum(sizes) / (end - start) / 1e6:.0f} MB/s")
PY
rm -f "$OUT"
