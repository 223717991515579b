#!/usr/bin/env bash
# CPU per request of a FastCGI responder behind nginx (kept connections, a Unix socket),
# wrk -t2 -c16, the peers rig's 3-URL request; the responder is any command that listens
# on the socket path given as its last argument. With no command: the Node floor,
# test/drills/fastcgi-floor.cjs. adrater on SQLite:
#   test/drills/floor.sh bin/adrater fcgi --db sqlite:/tmp/ratings.db --listen
# Env: SECONDS_RUN (8), QS (the query string).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/drills/nginx-fcgi.sh
[ $# -gt 0 ] || set -- node test/drills/fastcgi-floor.cjs
work=$(mktemp -d)
sock=$work/responder.sock
port=$(free_port)
cleanup() {
  [ -f "$work/nginx.pid" ] && kill -QUIT "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${responder:-}" ] && kill -TERM "$responder" 2>/dev/null && wait "$responder" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
env -i PATH=/usr/bin:/bin "$@" "$sock" 2>"$work/responder.log" &
responder=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
start_fcgi_nginx "$work" "$port" "unix:$sock"
url="http://127.0.0.1:$port/adrater?${QS:-url=http://www.site17.example/&url=site42.example&url=new1.example&priority=1}"
curl -sf -o /dev/null "$url"
worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
r0=$(cpu_ticks "$responder"); n0=$(cpu_ticks "$worker")
wrk -t2 -c16 -d"${SECONDS_RUN:-8}s" "$url" > "$work/wrk.txt"
r1=$(cpu_ticks "$responder"); n1=$(cpu_ticks "$worker")
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
hz=$(getconf CLK_TCK)
echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") req/s, CPU per request: responder $(( (r1 - r0) * 1000000 / hz / requests )) us, nginx $(( (n1 - n0) * 1000000 / hz / requests )) us; $(grep -c 'Non-2xx\|Socket errors' "$work/wrk.txt" || true) error lines"
