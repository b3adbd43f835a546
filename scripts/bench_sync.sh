#!/usr/bin/env bash
# Benchmarks the project's main job as users run it: `dagster job execute -j
# sc_amt_replica_to_reporting_service -f pipeline-config/local.yaml` (asset reporting/customers,
# kind table_sync, mode incremental, the config exactly as shipped), one process per measurement,
# wall time and peak RSS (/usr/bin/time -f %M), side by side with ClickHouse's own copy:
#   (a) the job's first run: a fresh, empty DAGSTER_HOME (temp dir) and no destination
#       (reporting.customers and reporting.customers_dedup dropped before), so it copies all
#       1,000,000 rows of test.customers;
#   (b) ClickHouse's mysql() table function copying the same table into
#       reporting.customers_native (ReplacingMergeTree, the natural column types; see
#       native_copy below), alternating with (a): N pairs, medians, and the median of the
#       per-pair ratios (a)/(b);
#   (c) the job again with nothing new, in the DAGSTER_HOME of the last (a) (its cursor);
#   (d) the job after 10,000 updates (updated_at moved, balance and phone changed, NULLs set and
#       cleared) and 5,000 inserts made in MariaDB before each run, same DAGSTER_HOME.
# The destination is compared with the source after every (a) and every (d): row count, per-column
# checksums (sums, non-NULL counts, byte lengths, cents, Unix seconds) and a checksum of every row's
# full text (MD5 of all 16 columns, NULLs marked); the script fails on any difference.
#
# (d) changes test.customers itself, because the shipped config reads test.customers and the point
# is to run that config unmodified (a copy of the table would need a generated config). The rows
# it will touch (ids 1..N*10000) are saved first in test.customers__bench_saved; afterwards
# (also on error or Ctrl-C, and at the next start if the script was killed) the inserted rows
# (ids above the dataset's) are deleted, the saved rows put back, AUTO_INCREMENT reset and the
# table's full checksum compared with the one taken before (d). ClickHouse's reporting.customers
# then holds (d)'s changes, which the restored source no longer has: the script drops it and its
# view at the end, so the next run of the job (in any DAGSTER_HOME) copies everything again.
#
# Usage: scripts/bench_sync.sh [--runs N] [--rows N]     (defaults: 5 pairs/runs, 1000000 rows)
# Env: DAGSTER_BIN  the dagster binary to measure; without it the script runs
#                   `cargo build --release -p dagster-cli` and uses target/release/dagster
#      MYSQL        mariadb/mysql client command (default `mariadb`, else `mysql`)
# MariaDB/MySQL on 127.0.0.1:3306 and ClickHouse on 127.0.0.1:8123, as in the shipped config.
# test.customers is (re)generated with scripts/bench_dataset.sh when it is missing or does not
# hold --rows rows. Raw figures: target/bench/sync.tsv.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
runs=5; rows=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --rows) rows="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$runs$rows" in *[!0-9]*) echo "--runs and --rows take positive integers" >&2; exit 2 ;; esac
[ "$runs" -ge 1 ] || { echo "--runs must be at least 1" >&2; exit 2; }
[ "$rows" -ge $(( runs * 10000 )) ] || { echo "(d) updates ids 1..$(( runs * 10000 )): --rows must be at least that" >&2; exit 2; }
if [ -z "${MYSQL:-}" ]; then
  if command -v mariadb >/dev/null; then MYSQL=mariadb; else MYSQL=mysql; fi
fi
export MYSQL
config=pipeline-config/local.yaml
job=sc_amt_replica_to_reporting_service
ch_url=http://127.0.0.1:8123
saved=customers__bench_saved
my() { MYSQL_PWD=bench $MYSQL -h127.0.0.1 -P3306 -ubench --default-character-set=utf8mb4 -N test \
  -e "SET time_zone = '+00:00'; $1"; }
ch() { curl -sS --fail-with-body "$ch_url/" --data-binary "$1"; }
say() { echo "$*" >&2; }

if [ -n "${DAGSTER_BIN:-}" ]; then
  bin=$(realpath "$DAGSTER_BIN")
  [ -x "$bin" ] || { say "DAGSTER_BIN=$DAGSTER_BIN is not an executable"; exit 2; }
else
  cargo build --release -p dagster-cli >/dev/null
  bin=$PWD/target/release/dagster
fi
out=$PWD/target/bench; mkdir -p "$out"
work=$(mktemp -d)
restore_pending=0

# Puts test.customers back as loaded (see the header); idempotent.
restore_source() {
  my "START TRANSACTION;
      DELETE FROM customers WHERE id > $rows;
      REPLACE INTO customers SELECT * FROM $saved;
      COMMIT;
      ALTER TABLE customers AUTO_INCREMENT = $(( rows + 1 ));
      DROP TABLE $saved"
}
cleanup() {
  if [ "$restore_pending" = 1 ]; then
    say "restoring test.customers"
    restore_source || say "RESTORE FAILED: test.customers still has (d)'s changes; $saved holds the original rows"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The dataset: leftovers of a killed run first, then the row count.
if [ "$(my "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'test' AND table_name = '$saved'" 2>/dev/null)" = 1 ]; then
  say "test.$saved exists (an earlier run was stopped during (d)): restoring test.customers"
  restore_source
fi
have=$(my "SELECT COUNT(*) FROM customers" 2>/dev/null || echo missing)
if [ "$have" != "$rows" ]; then
  if [ "$have" = missing ]; then what="is missing"; else what="has $have rows"; fi
  say "test.customers $what, want $rows rows: generating it with scripts/bench_dataset.sh"
  scripts/bench_dataset.sh --rows "$rows" --database test >&2
fi
ch "CREATE DATABASE IF NOT EXISTS reporting" >/dev/null

# CPU seconds (user + system) a server process has used so far, from /proc (0 when the server
# is not a local process): where the time of (a) and (b) goes.
tick=$(getconf CLK_TCK)
mariadb_pid=$(pgrep -x mariadbd || pgrep -x mysqld || true); mariadb_pid=${mariadb_pid%%$'\n'*}
clickhouse_pid=$(pgrep -f '^clickhouse-server|/clickhouse-server|clickhouse server' || true); clickhouse_pid=${clickhouse_pid%%$'\n'*}
cpu_of() { if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk -v t="$tick" '{printf "%.3f", ($14+$15)/t}' "/proc/$1/stat"; else echo 0; fi; }
servers_cpu() { echo "$(cpu_of "$mariadb_pid") $(cpu_of "$clickhouse_pid")"; }
# Server CPU used since "$1" (a servers_cpu reading): "<mariadb s> <clickhouse s>".
servers_cpu_since() { local now; now=$(servers_cpu); awk -v a="$1" -v b="$now" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.3f %.3f", y[1]-x[1], y[2]-x[2]}'; }

# One run of the shipped job in DAGSTER_HOME $1; prints "<seconds> <peak RSS KB> <own CPU s>".
run_job() {
  local t0 t1 log=$work/job.log
  t0=$EPOCHREALTIME
  if ! DAGSTER_HOME=$1 /usr/bin/time -f '%M %U %S' -o "$work/rss" "$bin" job execute -f "$config" -j "$job" \
      >"$log" 2>&1; then
    cat "$log" >&2; say "the job failed"; exit 1
  fi
  t1=$EPOCHREALTIME
  grep -q "SUCCESS" "$log" || { cat "$log" >&2; say "the job did not report SUCCESS"; exit 1; }
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}') $(tail -1 "$work/rss" | awk '{printf "%s %.3f", $1, $2+$3}')"
}

# The baseline: ClickHouse's own copy through its mysql() table function, into a table with the
# natural types. ClickHouse 18.x's mysql() hands NULLs over as '' and DECIMALs as text, hence
# nullIf and the decimal parsing (the inner if keeps '' away from the parser, which evaluates
# both branches). Dropped before, timed from CREATE to the end of the INSERT; prints seconds.
# Its copy is not exact: 18.x's mysql() talks 3-byte utf8, so the emoji in `notes` arrive as '?'.
# After the first run its row count must match the source; the checksums that differ are printed.
native_copy() {
  local t0 t1
  ch "DROP TABLE IF EXISTS reporting.customers_native" >/dev/null
  t0=$EPOCHREALTIME
  ch "CREATE TABLE reporting.customers_native (
        id UInt64, external_ref String, first_name String, last_name String, email String,
        phone Nullable(String), country String, city String,
        status Enum8('active' = 1, 'inactive' = 2, 'banned' = 3),
        balance Decimal(12, 2), credit_limit Nullable(Decimal(12, 2)), is_vip UInt8,
        signup_source Nullable(String), notes Nullable(String),
        created_at DateTime('UTC'), updated_at DateTime('UTC'))
      ENGINE = ReplacingMergeTree(updated_at) ORDER BY id" >/dev/null
  ch "INSERT INTO reporting.customers_native
      SELECT id, external_ref, first_name, last_name, email, nullIf(phone, ''), country, city, status,
             toDecimal64(balance, 2),
             if(empty(credit_limit), NULL, toDecimal64(if(empty(credit_limit), '0', credit_limit), 2)),
             toUInt8(is_vip), nullIf(signup_source, ''), nullIf(notes, ''), created_at, updated_at
      FROM mysql('127.0.0.1:3306', 'test', 'customers', 'bench', 'bench')" >/dev/null
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}'
}

# Checksums, the same figures computed by MariaDB/MySQL and by ClickHouse, in this order:
sum_names=(rows id external_ref first_name last_name email phone:non-null phone:bytes country city
  status:bytes balance:cents credit_limit:non-null credit_limit:cents is_vip signup_source:non-null
  signup_source:bytes notes:non-null notes:bytes created_at:unix updated_at:unix row_text_md5)
sums_my="COUNT(*), SUM(id), SUM(LENGTH(external_ref)), SUM(LENGTH(first_name)), SUM(LENGTH(last_name)),
  SUM(LENGTH(email)), COUNT(phone), SUM(LENGTH(IFNULL(phone, ''))), SUM(LENGTH(country)), SUM(LENGTH(city)),
  SUM(LENGTH(status)), CAST(SUM(balance) * 100 AS SIGNED), COUNT(credit_limit),
  CAST(IFNULL(SUM(credit_limit), 0) * 100 AS SIGNED), SUM(is_vip), COUNT(signup_source),
  SUM(LENGTH(IFNULL(signup_source, ''))), COUNT(notes), SUM(LENGTH(IFNULL(notes, ''))),
  SUM(UNIX_TIMESTAMP(created_at)), SUM(UNIX_TIMESTAMP(updated_at)),
  SUM(CAST(CONV(LEFT(MD5(CONCAT_WS('|', id, external_ref, first_name, last_name, email,
    IFNULL(phone, '<NULL>'), country, city, status, balance, IFNULL(credit_limit, '<NULL>'), is_vip,
    IFNULL(signup_source, '<NULL>'), IFNULL(notes, '<NULL>'), created_at, updated_at)), 8), 16, 10) AS UNSIGNED))"
sums_ch="count(), sum(id), sum(length(external_ref)), sum(length(first_name)), sum(length(last_name)),
  sum(length(email)), count(phone), sum(length(ifNull(phone, ''))), sum(length(country)), sum(length(city)),
  sum(length(toString(status))), toInt64(sum(balance) * 100), count(credit_limit),
  toInt64(ifNull(sum(credit_limit), toDecimal128(0, 2)) * 100), sum(is_vip), count(signup_source),
  sum(length(ifNull(signup_source, ''))), count(notes), sum(length(ifNull(notes, ''))),
  sum(toUnixTimestamp(created_at)), sum(toUnixTimestamp(updated_at)),
  sum(reinterpretAsUInt32(reverse(unhex(substring(hex(MD5(concat(toString(id), '|', external_ref, '|',
    first_name, '|', last_name, '|', email, '|', ifNull(phone, '<NULL>'), '|', country, '|', city, '|',
    toString(status), '|', toString(balance), '|', ifNull(toString(credit_limit), '<NULL>'), '|',
    toString(is_vip), '|', ifNull(signup_source, '<NULL>'), '|', ifNull(notes, '<NULL>'), '|',
    toString(created_at), '|', toString(updated_at)))), 1, 8)))))"
source_sums() { my "SELECT $sums_my FROM customers" | tr -s ' \t' ' '; }
dest_sums() { ch "SELECT $sums_ch FROM reporting.$1 FORMAT TabSeparated" | tr -s ' \t' ' '; }
differing() { # differing SUMS_A SUMS_B: names of the figures that differ
  local -a a b; local i d=
  read -ra a <<<"$1"; read -ra b <<<"$2"
  for i in "${!sum_names[@]}"; do
    [ "${a[i]:-}" = "${b[i]:-}" ] || d="$d ${sum_names[i]}"
  done
  echo "${d# }"
}
verify() { # verify SOURCE_SUMS LABEL: the source against reporting.customers_dedup
  local b
  b=$(dest_sums customers_dedup)
  if [ "$1" != "$b" ]; then
    say "MISMATCH after $2 in: $(differing "$1" "$b")"
    say "  source test.customers:        $1"
    say "  clickhouse customers_dedup:   $b"
    exit 1
  fi
  say "  verified after $2: $(echo "$1" | cut -d' ' -f1) rows, every checksum equal"
}

median() { sort -g | awk '{v[NR]=$1} END{if (NR%2) printf "%.4f", v[(NR+1)/2]; else printf "%.4f", (v[NR/2]+v[NR/2+1])/2}'; }
machine="$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), MariaDB/MySQL $(my 'SELECT VERSION()'), ClickHouse $(ch 'SELECT version()')"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $machine; load: $load_start"
say "binary: $bin; config: $config; $runs runs each"
printf 'what\trun\tseconds\tpeak_rss_kb\n' > "$out/sync.tsv"
record() { printf '%s\t%s\t%s\t%s\n' "$@" >> "$out/sync.tsv"; }

src0=$(source_sums)
say "source test.customers: $(echo "$src0" | cut -d' ' -f1) rows, checksums taken"

# (a) and (b), alternating.
home=
for i in $(seq 1 "$runs"); do
  [ -z "$home" ] || rm -rf "$home"
  home=$(mktemp -d "$work/home.XXXX")
  ch "DROP TABLE IF EXISTS reporting.customers_dedup" >/dev/null
  ch "DROP TABLE IF EXISTS reporting.customers" >/dev/null
  before=$(servers_cpu)
  res=$(run_job "$home"); read -r secs rss own <<<"$res"
  read -r my_cpu ch_cpu <<<"$(servers_cpu_since "$before")"
  record a "$i" "$secs" "$rss"
  printf 'cpu_a\t%s\t%s\t%s\t%s\n' "$i" "$my_cpu" "$ch_cpu" "$own" >> "$out/sync.tsv"
  say "  (a) run $i: $secs s, $rss KB; CPU: MariaDB $my_cpu s, ClickHouse $ch_cpu s, dagster $own s"
  verify "$src0" "(a) run $i"
  before=$(servers_cpu)
  native=$(native_copy)
  read -r my_cpu ch_cpu <<<"$(servers_cpu_since "$before")"
  record b "$i" "$native" -
  printf 'cpu_b\t%s\t%s\t%s\t-\n' "$i" "$my_cpu" "$ch_cpu" >> "$out/sync.tsv"
  say "  (b) run $i: $native s; CPU: MariaDB $my_cpu s, ClickHouse $ch_cpu s"
  if [ "$i" = 1 ]; then
    nat=$(dest_sums customers_native)
    [ "$(echo "$nat" | cut -d' ' -f1)" = "$(echo "$src0" | cut -d' ' -f1)" ] \
      || { say "the mysql() copy has $(echo "$nat" | cut -d' ' -f1) rows"; exit 1; }
    d=$(differing "$src0" "$nat")
    if [ -n "$d" ]; then
      say "  (b) copy against the source: same row count, differs in: $d (expected: notes and row_text_md5," \
        "ClickHouse 18.x's mysql() reads with a 3-byte utf8 charset and the emoji arrive as '?')"
    else
      say "  (b) copy against the source: every checksum equal"
    fi
  fi
done

# (c) nothing new, in the last (a)'s DAGSTER_HOME.
for i in $(seq 1 "$runs"); do
  res=$(run_job "$home"); read -r secs rss _ <<<"$res"
  record c "$i" "$secs" "$rss"
  say "  (c) run $i: $secs s, $rss KB"
done

# (d) changes in test.customers, then the job; the source restored afterwards.
my "DROP TABLE IF EXISTS $saved; CREATE TABLE $saved LIKE customers;
    INSERT INTO $saved SELECT * FROM customers WHERE id <= $(( runs * 10000 ))"
restore_pending=1
cols='external_ref, first_name, last_name, email, phone, country, city, status, balance, credit_limit, is_vip, signup_source, notes, created_at'
for i in $(seq 1 "$runs"); do
  lo=$(( (i - 1) * 10000 + 1 )); hi=$(( i * 10000 ))
  my "UPDATE customers SET balance = balance + 0.01, phone = IF(phone IS NULL, '+1-555-0000', NULL),
        updated_at = TIMESTAMP('2030-01-01 00:00:00') + INTERVAL $i HOUR WHERE id BETWEEN $lo AND $hi;
      INSERT INTO customers (id, $cols, updated_at)
        SELECT id + $(( rows + i * 10000 )), $cols, TIMESTAMP('2030-01-01 00:00:00') + INTERVAL $i HOUR
        FROM customers WHERE id <= 5000"
  res=$(run_job "$home"); read -r secs rss _ <<<"$res"
  record d "$i" "$secs" "$rss"
  say "  (d) run $i: $secs s, $rss KB"
  src=$(source_sums)
  verify "$src" "(d) run $i"
done
restore_source
restore_pending=0
back=$(source_sums)
if [ "$back" != "$src0" ]; then
  say "test.customers differs from before (d) after the restore, in: $(differing "$src0" "$back")"; exit 1
fi
say "test.customers restored (checksums as before (d))"
ch "DROP TABLE IF EXISTS reporting.customers_dedup" >/dev/null
ch "DROP TABLE IF EXISTS reporting.customers" >/dev/null
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

col() { awk -F'\t' -v k="$1" -v c="$2" '$1==k{print $c}' "$out/sync.tsv"; }
ma=$(col a 3 | median); mb=$(col b 3 | median); mc=$(col c 3 | median); md=$(col d 3 | median)
ratio=$(paste <(col a 3) <(col b 3) | awk '{print $1/$2}' | median)
ra=$(col a 4 | sort -n | tail -1); rc=$(col c 4 | sort -n | tail -1); rd=$(col d 4 | sort -n | tail -1)
rmax=$(printf '%s\n' "$ra" "$rc" "$rd" | sort -n | tail -1)
range() { col "$1" 3 | sort -g | sed -n '1p;$p' | paste -sd' ' | awk '{printf "%.3f–%.3f s", $1, $2}'; }
yes_no() { awk "BEGIN{print ($1) ? \"yes\" : \"no\"}"; }
ms() { awk -v s="$1" 'BEGIN{printf "%.1f ms", s*1000}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }
echo
echo "machine: $machine; load average $load_start at the start, $load_end at the end"
echo
echo "| what (median of $runs) | wall | peak RSS (max) | target | met? |"
echo "|---|---|---|---|---|"
echo "| (a) shipped job, first run (1M rows; \`job execute\`, fresh DAGSTER_HOME, no destination) | **$(printf '%.3f' "$ma") s** | $(mib "$ra") | | |"
echo "| (b) ClickHouse \`mysql()\` copy, alternating with (a) | $(printf '%.3f' "$mb") s | (server side) | | |"
echo "| (a)/(b), median of the $runs per-pair ratios | **$(printf '%.2f' "$ratio")** | | ≤ 0.7 | $(yes_no "$ratio <= 0.7") |"
echo "| (c) shipped job, nothing new | **$(ms "$mc")** | $(mib "$rc") | ≤ 50 ms | $(yes_no "$mc <= 0.05") |"
echo "| (d) shipped job after 10,000 updates + 5,000 inserts | **$(ms "$md")** | $(mib "$rd") | | |"
echo "| peak RSS of any run of the job | | $(mib "$rmax") | ≤ 100 MB | $(yes_no "$rmax * 1024 <= 100000000") |"
echo "| Python Dagster 1.13, same sync (docs/BENCHMARKS.md): (a) 45.4 s, 295 MB; (c) 5.1 s, 141 MB | | | | |"
echo
echo "Where the time goes, CPU seconds (user + system) during each run, medians: (a) MariaDB" \
  "$(col cpu_a 3 | median) s, ClickHouse $(col cpu_a 4 | median) s, the dagster process $(col cpu_a 5 | median) s" \
  "(wall $(printf '%.3f' "$ma") s on $(nproc) cores); (b) MariaDB $(col cpu_b 3 | median) s, ClickHouse" \
  "$(col cpu_b 4 | median) s (wall $(printf '%.3f' "$mb") s). The server figures count every client of the" \
  "servers: run it on an otherwise idle machine."
echo
echo "Single runs: (a) $(range a), (b) $(range b). Every source/\`customers_dedup\` comparison passed. Raw figures: target/bench/sync.tsv."
