#!/bin/sh
# Runs every cell of stall-sweep.plan through `quarklab run` (one at a time, niced: the machine
# is shared) and prints one tab-separated line per cell: board, profile, scenario, exit code,
# verdict, failed checks, and each stall's cause from report.json. Usage:
#   sh test/sweep/stall-sweep.sh [PLAN] [OUTDIR] > results.tsv
set -u
here=$(dirname "$0")
plan=${1:-$here/stall-sweep.plan}
outdir=${2:-/tmp/quarklab-stall-sweep}
cli=$here/../../dist/bundle/cli/main.js
printf 'board\tprofile\tscenario\texit\tverdict\tfailed checks\tstalls\n'
grep -v '^#' "$plan" | while read -r board profile scenario; do
  [ -n "$board" ] || continue
  out="$outdir/$board-$(basename "$profile" .config)-$(echo "$scenario" | tr ':=,' '___')"
  mkdir -p "$outdir"
  nice -n 10 node "$cli" run --board "$board" --profile "$profile" --scenario "$scenario" --out "$out" >/dev/null 2>"$out.err"
  code=$?
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1] + "/report.json", "utf8"));
    const failed = r.checks.filter((c) => !c.pass).map((c) => c.name).join("; ");
    const stalls = (r.stalls ?? []).map((s) => `${s.cause} ${(s.durationNs / 1e9).toFixed(1)} s`).join("; ");
    process.stdout.write([r.verdict, failed || "-", stalls || "-"].join("\t"));
  ' "$out" 2>/dev/null > "$out.row" || printf 'error\t%s\t-' "$(head -c 200 "$out.err")" > "$out.row"
  printf '%s\t%s\t%s\t%s\t%s\n' "$board" "$profile" "$scenario" "$code" "$(cat "$out.row")"
done
