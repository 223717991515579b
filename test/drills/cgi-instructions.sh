#!/usr/bin/env bash
# Instructions a CGI run executes (valgrind's callgrind), in a web server's environment:
# a count that does not move with the machine's load, for changes of a fraction of a
# millisecond that wall-clock runs cannot tell apart.
#
#   bash test/drills/cgi-instructions.sh [RUNS=5] [COMMAND …]
#   (default command: bin/adrater on ADRATER_DB, else on a scratch SQLite file)
#
# Prints, per run and as medians, the whole count and the count less V8's search for its
# hash secret (detail::sprp, under HashSeed::InitializeRoots): Node 20.20's V8 draws random
# primes at every start, 6.9-11.4 million instructions a run, the same work for bare
# `node -e 0` and for adrater, and the one part of the count that is random.
# Needs valgrind (Debian: valgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
shift || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=${ADRATER_DB:-sqlite:$work/instructions.sqlite}
[ $# -gt 0 ] || set -- /usr/bin/node "$PWD/bin/adrater"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
qs=${QS:-'url=http://www.site17.example/&url=site42.example&url=new1.example&priority=1'}
run_env=(env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET "QUERY_STRING=$qs" REMOTE_ADDR=127.0.0.1 "ADRATER_DB=$db")
"${run_env[@]}" "$@" >/dev/null # the first run creates a scratch file; not counted
totals=() lesses=()
for i in $(seq "$runs"); do
  "${run_env[@]}" valgrind --tool=callgrind --callgrind-out-file="$work/out" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r total less < <(callgrind_annotate --threshold=100 "$work/out" 2>/dev/null |
    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); t = $1 } /detail::sprp/ { gsub(",", "", $1); s = $1 } END { printf "%.2f %.2f\n", t / 1e6, (t - s) / 1e6 }')
  echo "run $i: ${total}M instructions, ${less}M less the hash-secret search"
  totals+=("$total") lesses+=("$less")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "median of $runs: $(median "${totals[@]}")M instructions, $(median "${lesses[@]}")M less the hash-secret search"
