#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzingserver, which tests WebSocket CLIENTS, on 127.0.0.1:PORT.
#
#   bash Tests/Conformance/run-server.sh PORT     # after setup.sh; foreground
#
# A client under test then opens ws://127.0.0.1:PORT/getCaseCount, runs every case with
# /runCase?case=I&agent=NAME (echoing each message back), and ends with
# /updateReports?agent=NAME, adding &shutdownOnComplete=true to make this server exit.
# Env:
#   VENV          venv made by setup.sh (default: <repo>/.autobahn-venv)
#   SPEC          spec template (default: fuzzingserver.json beside this script); its
#                 literal PORT is replaced by the port given
#   CASES         JSON list replacing the template's "cases", e.g. '["1.*","2.*"]'
#   EXCLUDE       JSON list replacing its "exclude-cases", e.g. '["12.*","13.*"]'
#   OUTDIR        report folder (default: reports/clients under the current directory);
#                 the spec actually used is written there as spec.json
#   MAX_LIFETIME  seconds after which the server is stopped whatever happens (default 3600)
# The server listens on 127.0.0.1 only, and its web UI is off (-u 0).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${1:?usage: run-server.sh PORT}"
VENV="${VENV:-$ROOT/.autobahn-venv}"
SPEC="${SPEC:-$HERE/fuzzingserver.json}"
OUTDIR="${OUTDIR:-reports/clients}"
MAX_LIFETIME="${MAX_LIFETIME:-3600}"
case "$PORT" in ''|*[!0-9]*) echo "run-server.sh: PORT must be a number, not '$PORT'" >&2; exit 2;; esac
[ -x "$VENV/bin/wstest" ] || { echo "run-server.sh: no $VENV/bin/wstest: run setup.sh first" >&2; exit 2; }

mkdir -p "$OUTDIR"
"$VENV/bin/python" - "$SPEC" "$PORT" "$OUTDIR" <<'PY'
import json, os, sys
template, port, outdir = sys.argv[1:4]
with open(template) as f:
    spec = json.loads(f.read().replace("PORT", port))
spec["outdir"] = outdir
spec["interface"] = "127.0.0.1"          # port_autobahn.py makes the server honour this
for key, var in (("cases", "CASES"), ("exclude-cases", "EXCLUDE")):
    if os.environ.get(var):
        spec[key] = json.loads(os.environ[var])
if not spec["url"].startswith("ws://127.0.0.1:"):
    sys.exit(f"run-server.sh: the spec's url must be ws://127.0.0.1:PORT, not {spec['url']}")
with open(os.path.join(outdir, "spec.json"), "w") as f:
    json.dump(spec, f, indent=2)
PY
echo "run-server.sh: fuzzingserver on ws://127.0.0.1:$PORT, reports in $OUTDIR, stops after ${MAX_LIFETIME}s" >&2
# exec: this script's PID is timeout's, so killing it stops the server (TERM, then KILL 5 s later).
exec timeout --kill-after=5 "$MAX_LIFETIME" \
  env PYTHONWARNINGS=ignore "$VENV/bin/wstest" -m fuzzingserver -s "$OUTDIR/spec.json" -u 0
