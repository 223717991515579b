#!/usr/bin/env bash
# Issue 12's table from the peers rig: ROUNDS rounds, each running the rig's libfcgi case and
# adrater's (`CASES="a-keep n-keep"`, one responder, the default command line) with the rig's
# 3-URL mix and then test/drills/wrk-10urls.lua. Prints one Markdown row a run: adrater's
# req/s against libfcgi's in the same run, the responder's and MariaDB's CPU a request, p99,
# and the targets it misses (responder <= 80 us, MariaDB <= 60 us, p99 <= 5 ms, >= 0.25x, no
# errors). Drops the tables the rig loads into MariaDB's `test` database when done.
# Usage: [ROUNDS=3] [PEERS=../shared/peers] bash test/drills/rig-rounds.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-3}
peers=${PEERS:-../shared/peers}
[ -f "$peers/run.sh" ] || { echo "no peers rig at $peers (PEERS=…)" >&2; exit 2; }
trap 'mariadb -h127.0.0.1 -uroot test -e "DROP TABLE IF EXISTS rating_queue, site_ratings, schema_version" 2>/dev/null || true' EXIT

echo '| mix | libfcgi req/s | adrater req/s | ratio | responder | MariaDB | p99 | missed |'
echo '| --- | --- | --- | --- | --- | --- | --- | --- |'
for _ in $(seq "$rounds"); do
  for mix in 3 10; do
    lua=()
    [ "$mix" = 10 ] && lua=(WRK_LUA="$PWD/test/drills/wrk-10urls.lua")
    # The rig's rows: case, req/s, p50, p99, errors, backend µs, MariaDB µs, nginx µs.
    out=$(env -u NODE_EXTRA_CA_CERTS "${lua[@]}" RUNS=1 CASES="a-keep n-keep" PROJECT="$PWD" bash "$peers/run.sh" 2>&1 | grep -E '^(a|n)-keep' || true)
    awk -v mix="$mix URLs" '
      $1 == "a-keep" { fcgi = $2 }
      $1 == "n-keep" { rate = $2; p99 = $4; errors = $5; cpu = $6; db = $7 }
      END {
        if (!fcgi || !rate) { printf "| %s | the rig gave no figure (%s) |\n", mix, (fcgi ? "adrater" : "libfcgi"); exit }
        ratio = rate / fcgi; missed = ""
        if (cpu > 80) missed = missed " responder"
        if (db > 60) missed = missed " MariaDB"
        if (p99 > 5) missed = missed " p99"
        if (ratio < 0.25) missed = missed " ratio"
        if (errors > 0) missed = missed " errors"
        printf "| %s | %d | %d | %.2f× | %d µs | %d µs | %.2f ms | %s |\n", mix, fcgi, rate, ratio, cpu, db, p99, (missed ? substr(missed, 2) : "none")
      }' <<<"$out"
  done
done
