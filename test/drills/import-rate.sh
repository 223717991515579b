#!/usr/bin/env bash
# Prints how fast `adrater import` loads N synthetic ratings (default 1,000,000) into a
# scratch SQLite file and a scratch MariaDB database. Usage: import-rate.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-1000000}
work=$(mktemp -d)
db=adrater_import_rate_$$
trap 'rm -rf "$work"; mysql --protocol=tcp -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $db" || true' EXIT

node -e '
  const n = Number(process.argv[1]);
  const out = ["domain,rating,info,rated_at,expires_at"];
  for (let i = 0; i < n; i++) out.push(`site${i}.example.com,${"ABCDF"[i % 5]},"synthetic, row ${i}",2026-01-01T00:00:00Z,${i % 2 ? "2027-01-01" : ""}`);
  require("fs").writeFileSync(process.argv[2], out.join("\n") + "\n");
' "$rows" "$work/ratings.csv"
echo "rows: $rows ($(du -h "$work/ratings.csv" | cut -f1))"

rate() { # name, db url
  bin/adrater db init --db "$2" 2>/dev/null
  local start end
  start=$(date +%s.%N)
  bin/adrater import "$work/ratings.csv" --db "$2" >/dev/null
  end=$(date +%s.%N)
  awk -v n="$rows" -v s="$start" -v e="$end" -v name="$1" 'BEGIN { printf "%-8s %8.1f s  %10.0f rows/s\n", name, e - s, n / (e - s) }'
}
rate sqlite "sqlite:$work/ratings.sqlite"
mysql --protocol=tcp -h127.0.0.1 -uroot -e "CREATE DATABASE $db"
rate mariadb "mysql://root@127.0.0.1:3306/$db"
