#!/usr/bin/env bash
# Benchmarks the MySQL → ClickHouse table sync (issue 3) side by side with ClickHouse's own
# mysql() table function copy, in one run, each measurement several times, medians printed:
#   (a) full sync of test.customers (mode: full, fresh destination each time), end to end as a
#       process: `dagster asset materialize` of a generated pipeline config, temp DAGSTER_HOME;
#   (b) ClickHouse's own copy ($BENCH_DIR/native_copy.sh), alternating with (a);
#   (c) incremental sync with nothing new;
#   (d) incremental sync after 10,000 updates (updated_at bumped) and 5,000 inserts, made in
#       MariaDB between runs on a copy `test.customers_bench` (test.customers stays as loaded);
#   peak RSS of each sync process (/usr/bin/time -f %M).
# Row count and a checksum of several columns are compared, source vs the `_dedup` view, after
# every (a) and (d) run; the script fails if they differ.
#
# Usage: scripts/bench_sync.sh [--runs N] [--compression none|lz4] [--batch-size N]
# Env: BENCH_DIR (default ../shared/bench, relative to the repository), MYSQL (mariadb client,
#      default `mariadb`), MYSQL_HOST/MYSQL_PORT (127.0.0.1/3306, user bench/bench),
#      CLICKHOUSE_URL (http://127.0.0.1:8123). Needs the dataset loaded by $BENCH_DIR/setup.sh.
# Raw figures: target/bench/sync.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5; compression=none; batch_size=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --compression) compression="$2"; shift ;;
    --batch-size) batch_size="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
bench_dir=$(cd "${BENCH_DIR:-../shared/bench}" && pwd)
MYSQL=${MYSQL:-mariadb}
mysql_host=${MYSQL_HOST:-127.0.0.1}; mysql_port=${MYSQL_PORT:-3306}
ch_url=${CLICKHOUSE_URL:-http://127.0.0.1:8123}
my() { $MYSQL -h"$mysql_host" -P"$mysql_port" -ubench -pbench --default-character-set=utf8mb4 -N test -e "SET time_zone = '+00:00'; $1"; }
ch() { curl -sS --fail-with-body "$ch_url/" --data-binary "$1"; }

cargo build --release -p dagster-cli >/dev/null
bin=$PWD/target/release/dagster
out=$PWD/target/bench; mkdir -p "$out"
work=$(mktemp -d)
cleanup() {
  rm -rf "$work"
  my "DROP TABLE IF EXISTS customers_bench" >/dev/null 2>&1 || true
}
trap cleanup EXIT
export DAGSTER_HOME=$work/home; mkdir -p "$DAGSTER_HOME"; touch "$DAGSTER_HOME/dagster.yaml"
"$bin" instance migrate >/dev/null

cat > "$work/sync.yaml" <<EOF
location_name: bench_sync
resources:
  replica:
    type: mysql
    config: {host: "$mysql_host", port: $mysql_port, user: bench, password: bench, database: test}
  reporting:
    type: clickhouse
    config: {url: "$ch_url", database: reporting, validation: false, compression: $compression}
pipeline_configs:
  full_sync:
    kind: table_sync
    key: bench/customers_full
    source: replica
    source_table: customers
    destination: reporting
    destination_table: bench_customers_full
    mode: full
    cursor_column: updated_at
    primary_key: [id]
${batch_size:+    batch_size: $batch_size}
  incremental_sync:
    kind: table_sync
    key: bench/customers_inc
    source: replica
    source_table: customers_bench
    destination: reporting
    destination_table: bench_customers_inc
    mode: incremental
    cursor_column: updated_at
    primary_key: [id]
${batch_size:+    batch_size: $batch_size}
EOF

# One sync process; prints "<seconds> <peak RSS KB>".
sync() {
  local t0 t1
  t0=$EPOCHREALTIME
  if ! /usr/bin/time -f %M -o "$work/rss" "$bin" asset materialize -q -f "$work/sync.yaml" --select "$1" \
      >"$work/sync.log" 2>&1; then
    cat "$work/sync.log" >&2; echo "sync $1 failed" >&2; exit 1
  fi
  t1=$EPOCHREALTIME
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}') $(tail -1 "$work/rss")"
}

# Row count, NULL counts and sums of several columns: source table vs the deduplicated view.
checksum_sql_my='COUNT(*), SUM(id), COUNT(phone), COUNT(credit_limit), COUNT(notes), SUM(LENGTH(email)),
  SUM(LENGTH(IFNULL(notes, ""))), CAST(SUM(balance) * 100 AS SIGNED), CAST(IFNULL(SUM(credit_limit), 0) * 100 AS SIGNED),
  SUM(is_vip), SUM(UNIX_TIMESTAMP(updated_at)), SUM(LENGTH(status))'
checksum_sql_ch="count(), sum(id), count(phone), count(credit_limit), count(notes), sum(length(email)),
  sum(length(ifNull(notes, ''))), toInt64(sum(balance) * 100), toInt64(ifNull(sum(credit_limit), toDecimal128(0, 2)) * 100),
  sum(is_vip), sum(toUnixTimestamp(updated_at)), sum(length(toString(status)))"
verify() { # source_table destination_table label
  local a b
  a=$(my "SELECT $checksum_sql_my FROM $1" | tr -s ' \t' ' ')
  b=$(ch "SELECT $checksum_sql_ch FROM reporting.${2}_dedup FORMAT TabSeparated" | tr -s ' \t' ' ')
  if [ "$a" != "$b" ]; then
    echo "MISMATCH after $3: source $1: $a" >&2
    echo "                 clickhouse ${2}_dedup: $b" >&2
    exit 1
  fi
  echo "  verified after $3: $(echo "$a" | cut -d' ' -f1) rows, checksums equal" >&2
}

median() { sort -n | awk '{v[NR]=$1} END{if (NR%2) printf "%.4f", v[(NR+1)/2]; else printf "%.4f", (v[NR/2]+v[NR/2+1])/2}'; }
maxof() { sort -n | tail -1; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "mariadb $(my 'SELECT VERSION()'), clickhouse $(ch 'SELECT version()'), $runs runs each, compression $compression${batch_size:+, batch_size $batch_size}" >&2
: > "$out/sync.tsv"

# (a) and (b), alternating.
for i in $(seq 1 "$runs"); do
  ch "DROP TABLE IF EXISTS reporting.bench_customers_full" >/dev/null
  ch "DROP TABLE IF EXISTS reporting.bench_customers_full_dedup" >/dev/null
  sync bench/customers_full > "$work/res"; read -r secs rss < "$work/res"
  printf 'a\t%s\t%s\n' "$secs" "$rss" >> "$out/sync.tsv"
  echo "  (a) run $i: $secs s, $rss KB" >&2
  [ "$i" = 1 ] && verify customers bench_customers_full "full sync (a)"
  native=$(bash "$bench_dir/native_copy.sh" | sed -n 's/.*copy: \([0-9.]*\) s.*/\1/p')
  printf 'b\t%s\t-\n' "$native" >> "$out/sync.tsv"
  echo "  (b) run $i: $native s" >&2
done
verify customers bench_customers_full "full sync (a), last run"

# (c) and (d) on a copy of the table.
my "DROP TABLE IF EXISTS customers_bench; CREATE TABLE customers_bench LIKE customers;
    INSERT INTO customers_bench SELECT * FROM customers"
ch "DROP TABLE IF EXISTS reporting.bench_customers_inc" >/dev/null
ch "DROP TABLE IF EXISTS reporting.bench_customers_inc_dedup" >/dev/null
sync bench/customers_inc > "$work/res"; read -r secs rss < "$work/res"
echo "  initial incremental load (not counted): $secs s, $rss KB" >&2
for i in $(seq 1 "$runs"); do
  sync bench/customers_inc > "$work/res"; read -r secs rss < "$work/res"
  printf 'c\t%s\t%s\n' "$secs" "$rss" >> "$out/sync.tsv"
  echo "  (c) run $i: $secs s, $rss KB" >&2
done
cols='external_ref, first_name, last_name, email, phone, country, city, status, balance, credit_limit, is_vip, signup_source, notes, created_at'
for i in $(seq 1 "$runs"); do
  lo=$(( (i - 1) * 10000 + 1 )); hi=$(( i * 10000 ))
  my "UPDATE customers_bench SET balance = balance + 0.01, phone = IF(phone IS NULL, '+1-555-0000', NULL),
        updated_at = TIMESTAMP('2030-01-01 00:00:00') + INTERVAL $i HOUR WHERE id BETWEEN $lo AND $hi;
      INSERT INTO customers_bench (id, $cols, updated_at)
        SELECT id + $(( 2000000 + i * 10000 )), $cols, TIMESTAMP('2030-01-01 00:00:00') + INTERVAL $i HOUR
        FROM customers WHERE id <= 5000"
  sync bench/customers_inc > "$work/res"; read -r secs rss < "$work/res"
  printf 'd\t%s\t%s\n' "$secs" "$rss" >> "$out/sync.tsv"
  echo "  (d) run $i: $secs s, $rss KB" >&2
  verify customers_bench bench_customers_inc "incremental sync (d) run $i"
done
ch "DROP TABLE IF EXISTS reporting.bench_customers_inc_dedup" >/dev/null
ch "DROP TABLE IF EXISTS reporting.bench_customers_inc" >/dev/null
ch "DROP TABLE IF EXISTS reporting.bench_customers_full_dedup" >/dev/null
ch "DROP TABLE IF EXISTS reporting.bench_customers_full" >/dev/null

col() { awk -v k="$1" -v c="$2" '$1==k{print $c}' "$out/sync.tsv"; }
ma=$(col a 2 | median); mb=$(col b 2 | median); mc=$(col c 2 | median); md=$(col d 2 | median)
ra=$(col a 3 | maxof); rc=$(col c 3 | maxof); rd=$(col d 3 | maxof)
ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN{printf "%.2f", a/b}')
ms() { awk -v s="$1" 'BEGIN{printf "%.1f ms", s*1000}'; }
mb_() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }
echo
echo "| what (median of $runs) | wall | peak RSS (max) | target |"
echo "|---|---|---|---|"
echo "| (a) full sync, 1M rows, \`asset materialize\` | $ma s | $(mb_ "$ra") | (a)/(b) ≤ 0.8, RSS ≤ 100 MB |"
echo "| (b) ClickHouse mysql() copy | $mb s | (server side) | |"
echo "| (a)/(b) | $ratio | | ≤ 0.8 |"
echo "| (c) incremental, nothing new | $(ms "$mc") | $(mb_ "$rc") | ≤ 50 ms |"
echo "| (d) incremental, 10,000 updates + 5,000 inserts | $(ms "$md") | $(mb_ "$rd") | |"
echo "| Python Dagster reference (../shared/bench/README.md): (a) 45.4 s, (c) 5.1 s | | | |"
