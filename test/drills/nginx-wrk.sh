#!/usr/bin/env bash
# Requests per second through nginx (fastcgi_pass, kept connections) to one adrater
# FastCGI responder on MariaDB: wrk -t2 -c16, 3 URLs per request (2 rated, 1 new; URLS=10:
# 8 rated, 2 new; the two wrk threads ask for different sites), a table of ROWS ratings.
# Prints wrk's figures, the CPU microseconds per request of the responder and of MariaDB
# (from /proc, over the wrk run), and its RSS.
# ALLOC=1: also the bytes the responder allocates a request over the measured run, and where
# (test/drills/alloc-sample.cjs).
# PERF=1: also where the responder (every thread, the kernel's part included) and MariaDB spent
# their CPU over the measured run: perf's cpu-clock samples (Debian's linux-perf), summed up by
# test/drills/perf-summary.cjs.
# WINDOWS=N: first N windows of 2 s from the responder's start, a line each (req/s, p99, CPU
# per request): its JIT warm-up as it happens; the measured run then follows them.
# Usage: [UNIX=1] [URLS=10] [ALLOC=1] [PERF=1] [WINDOWS=N] [NODE_FLAGS=--cpu-prof…] [FCGI_ARGS=…] nginx-wrk.sh [ROWS=100000] [SECONDS=10] [DB=mysql://root@127.0.0.1:3306]
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/drills/nginx-fcgi.sh
rows=${1:-100000}
seconds=${2:-10}
urls=${URLS:-3}
[ "$urls" = 3 ] || [ "$urls" = 10 ] || { echo "URLS must be 3 or 10" >&2; exit 2; }
server=${3:-mysql://root@127.0.0.1:3306}
work=$(mktemp -d)
chmod 755 "$work"
name=adrater_wrk_$$
url="$server/$name"
fcgi_port=$(free_port)
http_port=$(free_port)
cleanup() {
  [ -f "$work/nginx.pid" ] && kill -QUIT "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${responder:-}" ] && kill -TERM "$responder" 2>/dev/null && wait "$responder" 2>/dev/null || true
  [ -n "${responder:-}" ] && rm -f "/tmp/perf-$responder.map"
  mysql --protocol=tcp -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $name" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mysql --protocol=tcp -h127.0.0.1 -uroot -e "CREATE DATABASE $name"
bin/adrater db init --db "$url" 2>/dev/null
node -e '
  const n = Number(process.argv[1]); const out = ["domain,rating,info,rated_at,expires_at"];
  for (let i = 0; i < n; i++) out.push(`rated-site${i}.com,${"ABCDF"[i % 5]},synthetic,2026-01-01,`);
  require("fs").writeFileSync(process.argv[2], out.join("\n") + "\n");' "$rows" "$work/ratings.csv"
bin/adrater import "$work/ratings.csv" --db "$url" 2>&1 | tail -1

# shellcheck disable=SC2086
# UNIX=1: nginx reaches the responder over a Unix socket (as the peers rig does), else TCP.
listen="127.0.0.1:$fcgi_port"; upstream="$listen"
[ "${UNIX:-}" = 1 ] && listen="$work/adrater.sock" && upstream="unix:$listen"
node_args=(); alloc=()
[ "${ALLOC:-}" = 1 ] && node_args=(-r "$PWD/test/drills/alloc-sample.cjs") && alloc=(ADRATER_ALLOC_OUT="$work/alloc.json")
# V8 names the code it compiles for perf in /tmp/perf-PID.map (removed when done).
if [ "${PERF:-}" = 1 ]; then
  command -v perf >/dev/null || { echo "PERF=1 needs perf (apt-get install linux-perf)" >&2; exit 2; }
  node_args+=(--perf-basic-prof)
fi
# shellcheck disable=SC2086
if [ -n "${NODE_FLAGS:-}" ] || [ ${#node_args[@]} -gt 0 ]; then start=(node "${node_args[@]}" ${NODE_FLAGS:-} bin/adrater); else start=(bin/adrater); fi
env -i PATH=/usr/bin:/bin "${alloc[@]}" ADRATER_DB="$url" "${start[@]}" fcgi --listen "$listen" ${FCGI_ARGS:-} 2>"$work/responder.log" &
responder=$!
mariadb=$(ss -ltnpH 'sport = :3306' | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -1)
start_fcgi_nginx "$work" "$http_port" "$upstream"
cat > "$work/requests.lua" <<LUA
local n = 0
local id = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("id", threads) end
init = function() id = wrk.thread:get("id") end
request = function()
  n = n + 1
  if $urls == 10 then
    local p = {}
    for i = 1, 8 do p[#p + 1] = "url=http://www.rated-site" .. ((n * 7919 + i * 104729 + id * 50021) % $rows) .. ".com/page" .. i end
    p[#p + 1] = "url=new-" .. id .. "-" .. n .. ".org"
    p[#p + 1] = "url=new2-" .. id .. "-" .. n .. ".org"
    return wrk.format(nil, "/adrater?" .. table.concat(p, "&") .. "&priority=1")
  end
  return wrk.format(nil, "/adrater?url=http://www.rated-site" .. ((n * 7919 + id * 50021) % $rows) .. ".com/&url=rated-site" .. ((n * 104729 + id * 50021) % $rows) .. ".com&url=new-" .. id .. "-" .. n .. ".org")
LUA
echo "end" >> "$work/requests.lua"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$http_port/adrater?url=rated-site1.com" >/dev/null && break; sleep 0.1; done
curl -s "http://127.0.0.1:$http_port/adrater?url=rated-site1.com&url=new.org" | grep -c 'status="rated"\|status="queued"' >/dev/null
# The responder's system calls (/proc/PID/io) and MariaDB's statements and commits (global
# counters: run nothing else against it meanwhile), per request: how well requests share them.
io() { awk '/^syscr|^syscw/ {printf "%s ", $2}' "/proc/$responder/io"; }
# (SHOW STATUS lists them by name: Com_insert, Com_select, Com_stmt_execute, Handler_commit.)
statements() { mysql --protocol=tcp -h127.0.0.1 -uroot -N -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_stmt_execute', 'Com_select', 'Com_insert', 'Handler_commit')" | awk '{printf "%s ", $2}'; }
hz=$(getconf CLK_TCK)
for window in $(seq "${WINDOWS:-0}"); do
  r0=$(cpu_ticks "$responder"); m0=$(cpu_ticks "$mariadb")
  wrk -t2 -c16 -d2s --latency -s "$work/requests.lua" "http://127.0.0.1:$http_port/" > "$work/window.txt"
  r1=$(cpu_ticks "$responder"); m1=$(cpu_ticks "$mariadb")
  n=$(awk '/requests in/ {print $1}' "$work/window.txt")
  rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/window.txt"); p99=$(awk '/ 99%/ {print $2}' "$work/window.txt")
  echo "window $window ($(( window * 2 - 2 ))-$(( window * 2 )) s): $rate req/s, p99 $p99, responder $(( (r1 - r0) * 1000000 / hz / n )) us, MariaDB $(( (m1 - m0) * 1000000 / hz / n )) us a request"
done
[ "${ALLOC:-}" = 1 ] && kill -USR2 "$responder"
r0=$(cpu_ticks "$responder"); m0=$(cpu_ticks "$mariadb"); io0=($(io)); st0=($(statements))
[ "${PERF:-}" = 1 ] && { perf record -q -e cpu-clock -F 999 -g -p "$responder,$mariadb" -o "$work/perf.data" -- sleep "$seconds" 2>/dev/null & perf_job=$!; }
wrk -t2 -c16 -d"${seconds}s" --latency -s "$work/requests.lua" "http://127.0.0.1:$http_port/" > "$work/wrk.txt"
r1=$(cpu_ticks "$responder"); m1=$(cpu_ticks "$mariadb"); io1=($(io)); st1=($(statements))
[ "${ALLOC:-}" = 1 ] && kill -USR2 "$responder"
grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors" "$work/wrk.txt"
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
echo "CPU per request: responder $(( (r1 - r0) * 1000000 / hz / requests )) us, MariaDB $(( (m1 - m0) * 1000000 / hz / requests )) us"
per() { awk -v d="$1" -v n="$requests" 'BEGIN {printf "%.2f", d / n}'; }
echo "per request: responder read calls $(per $((io1[0] - io0[0]))), write calls $(per $((io1[1] - io0[1]))); MariaDB SELECTs and INSERTs $(per $((st1[0] + st1[1] - st0[0] - st0[1]))), prepared executions $(per $((st1[2] - st0[2]))), Handler_commit $(per $((st1[3] - st0[3])))"
echo "responder RSS after the run: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$responder/status)"
echo "queued rows (one per request that got an answer, the windows' included): $(mysql --protocol=tcp -h127.0.0.1 -uroot -N -e "SELECT COUNT(*) FROM $name.rating_queue")"
if [ "${PERF:-}" = 1 ]; then
  wait "$perf_job" || true
  perf script -F comm,pid,tid,ip,sym,dso -i "$work/perf.data" 2>/dev/null | node test/drills/perf-summary.cjs "$responder" "$mariadb"
fi
if [ "${ALLOC:-}" = 1 ]; then
  for _ in $(seq 50); do [ -s "$work/alloc.json" ] && break; sleep 0.1; done
  node -e '
    const { total, bySelf, byOwn } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const n = Number(process.argv[2]);
    const row = ([name, bytes]) => `${String(Math.round(bytes / n)).padStart(8)}  ${name}`;
    console.log(`allocated a request: ${Math.round(total / n)} bytes (sampled, freed objects included)`);
    console.log("by the function allocating:"); bySelf.slice(0, 15).forEach((e) => console.log(row(e)));
    console.log("by the first frame of dist/lib above it:"); byOwn.slice(0, 15).forEach((e) => console.log(row(e)));' "$work/alloc.json" "$requests"
fi
