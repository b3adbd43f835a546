#!/usr/bin/env bash
# Generates the table-sync benchmark dataset (scripts/bench_sync.sh, the job
# sc_amt_replica_to_reporting_service of pipeline-config/local.yaml): `customers`, 16 columns,
# every value a function of the row number n (1..N), nothing random, so every load is identical:
#   id                BIGINT UNSIGNED PK          n
#   external_ref      CHAR(36)                    UUID-shaped: hex(n), fixed middle, hex(n*7919)
#   first_name        VARCHAR(64)                 8 names (n mod 8)
#   last_name         VARCHAR(64)                 11 names, with Müller, García, O'Brien (n mod 11)
#   email             VARCHAR(255)                user<n>@example.com
#   phone             VARCHAR(32) NULL            NULL when n mod 5 = 0 (20 %), else +1-555-dddd
#   country, city     CHAR(2), VARCHAR(64)        n mod 6, n mod 7 (Zürich among the cities)
#   status            ENUM(active,inactive,banned) n mod 3
#   balance           DECIMAL(12,2)               (n mod 100000) / 100
#   credit_limit      DECIMAL(12,2) NULL          NULL when n mod 3 = 0, else (n mod 5000) * 1.25
#   is_vip            TINYINT(1)                  n mod 2
#   signup_source     VARCHAR(32) NULL            NULL when n mod 4 = 0, else web/ios/partner (n mod 3)
#   notes             TEXT NULL                   only when n mod 10 = 0: text with an em dash and 🎉
#   created_at        DATETIME                    2020-01-01 + n minutes
#   updated_at        DATETIME                    2024-01-01 + 30 n seconds; index (updated_at, id)
# utf8mb4, InnoDB. It reproduces the dataset of the original benchmark (../shared/bench,
# customers_mysql.sql) value for value, but needs neither that file nor MariaDB's SEQUENCE
# engine: the row numbers come from cross joins of digit tables (0..9) in plain derived tables,
# so the same SQL runs on MariaDB 10.x and MySQL 8 (no recursive CTE, no depth limit). As fast
# as the original load when the two are run alternately (the original: about 9 s for 1M rows
# on a quiet 2-core machine).
#
# Also creates the user bench/bench (all privileges, as the job's config expects) and the
# ClickHouse database `reporting`.
#
# Usage: scripts/bench_dataset.sh [--rows N] [--database NAME]     (defaults: 1000000, test)
# Env: MYSQL       client command (default `mariadb`, else `mysql`); put host/port options in it,
#                  e.g. MYSQL="mysql -h127.0.0.1 -P3306"
#      MYSQL_USER  administrative user (default root; its password, if any, in MYSQL_PWD)
#      CLICKHOUSE_URL  ClickHouse HTTP interface (default http://127.0.0.1:8123); SKIP_CLICKHOUSE=1
#                  to leave ClickHouse alone.
set -euo pipefail
rows=1000000; database=test
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift ;;
    --database) database="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$rows" in ''|*[!0-9]*) echo "--rows takes a positive integer" >&2; exit 2 ;; esac
[ "$rows" -ge 1 ] || { echo "--rows takes a positive integer" >&2; exit 2; }
case "$database" in ''|*[!A-Za-z0-9_]*) echo "--database: letters, digits and _ only" >&2; exit 2 ;; esac
if [ -z "${MYSQL:-}" ]; then
  if command -v mariadb >/dev/null; then MYSQL=mariadb; else MYSQL=mysql; fi
fi
admin() { $MYSQL -u"${MYSQL_USER:-root}" --default-character-set=utf8mb4 "$@"; }

digits='(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)'

# Row n = lo + hi, lo in 1..1000 and hi in 0, 1000, 2000, .. below N, each a materialized
# derived table (LIMIT keeps it from being merged) built from digit tables. One addition only: n
# is written out at every use below, and summing six digit columns there costs seconds per
# million rows. Rows are cheapest to insert in primary key order, and which table of a cross
# join varies fastest depends on the server's join executor (MariaDB's join buffer: the first
# one; MySQL 8's nested loop or hash join: the last one), so ask the server once and order the
# tables for it (the values do not depend on it, only the speed).
probe=$(admin -N -e "SELECT STRAIGHT_JOIN a.d * 10 + b.d FROM $digits AS a CROSS JOIN $digits AS b LIMIT 2" | tr '\n' ' ')
first_fastest=0; [ "$probe" = "0 10 " ] && first_fastest=1
numbers() { # numbers UPPER SCALE OFFSET: a derived table of k = i * SCALE + OFFSET for
             # i = 0..UPPER-1, ascending in join order
  local upper=$1 scale=$2 offset=$3 last=$(( $1 - 1 )) m i expr= from=
  m=${#last}
  for i in $(seq 0 $(( m - 1 ))); do
    expr="$expr${expr:+ + }$(( 10 ** i )) * p$i.d"
    if [ "$first_fastest" = 1 ]; then
      from="$from${from:+ CROSS JOIN }$digits AS p$i"
    else
      from="$digits AS p$i${from:+ CROSS JOIN }$from"
    fi
  done
  echo "(SELECT STRAIGHT_JOIN ($expr) * $scale + $offset AS k FROM $from WHERE $expr < $upper LIMIT $upper)"
}
blocks=$(( (rows + 999) / 1000 ))
if [ "$first_fastest" = 1 ]; then
  from="$(numbers 1000 1 1) AS lo CROSS JOIN $(numbers "$blocks" 1000 0) AS hi"
else
  from="$(numbers "$blocks" 1000 0) AS hi CROSS JOIN $(numbers 1000 1 1) AS lo"
fi
n='(lo.k + hi.k)'

started=$EPOCHREALTIME
inserted=$(admin -N <<SQL
CREATE DATABASE IF NOT EXISTS \`$database\`;
CREATE USER IF NOT EXISTS 'bench'@'%' IDENTIFIED BY 'bench';
CREATE USER IF NOT EXISTS 'bench'@'localhost' IDENTIFIED BY 'bench';
GRANT ALL ON *.* TO 'bench'@'%';
GRANT ALL ON *.* TO 'bench'@'localhost';
USE \`$database\`;
DROP TABLE IF EXISTS customers;
CREATE TABLE customers (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  external_ref   CHAR(36) NOT NULL,
  first_name     VARCHAR(64) NOT NULL,
  last_name      VARCHAR(64) NOT NULL,
  email          VARCHAR(255) NOT NULL,
  phone          VARCHAR(32) NULL,
  country        CHAR(2) NOT NULL,
  city           VARCHAR(64) NOT NULL,
  status         ENUM('active', 'inactive', 'banned') NOT NULL,
  balance        DECIMAL(12,2) NOT NULL,
  credit_limit   DECIMAL(12,2) NULL,
  is_vip         TINYINT(1) NOT NULL,
  signup_source  VARCHAR(32) NULL,
  notes          TEXT NULL,
  created_at     DATETIME NOT NULL,
  updated_at     DATETIME NOT NULL,
  PRIMARY KEY (id),
  KEY idx_updated_at (updated_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO customers (id, external_ref, first_name, last_name, email, phone, country, city, status,
                       balance, credit_limit, is_vip, signup_source, notes, created_at, updated_at)
SELECT STRAIGHT_JOIN
  $n,
  CONCAT_WS('-', LPAD(HEX($n), 8, '0'), '0000', '4000', '8000', LPAD(HEX($n * 7919), 12, '0')),
  ELT($n % 8 + 1, 'Ana', 'Bo', 'Chen', 'Dana', 'Eli', 'Fatima', 'Goran', 'Hiro'),
  ELT($n % 11 + 1, 'Smith', 'Müller', 'García', 'Nguyen', 'Kowalski', 'Rossi', 'Ivanova', 'Okafor',
      'Tanaka', 'Silva', 'O''Brien'),
  CONCAT('user', $n, '@example.com'),
  CASE WHEN $n % 5 <> 0 THEN CONCAT('+1-555-', LPAD($n % 10000, 4, '0')) END,
  ELT($n % 6 + 1, 'US', 'DE', 'FR', 'JP', 'BR', 'NG'),
  ELT($n % 7 + 1, 'Austin', 'Berlin', 'Paris', 'Osaka', 'Recife', 'Lagos', 'Zürich'),
  $n % 3 + 1,
  ($n % 100000) / 100,
  CASE WHEN $n % 3 <> 0 THEN ($n % 5000) * 1.25 END,
  $n % 2,
  CASE WHEN $n % 4 <> 0 THEN ELT($n % 3 + 1, 'web', 'ios', 'partner') END,
  CASE WHEN $n % 10 = 0 THEN CONCAT('note for customer ', $n, ' — 🎉') END,
  CAST('2020-01-01 00:00:00' AS DATETIME) + INTERVAL $n MINUTE,
  CAST('2024-01-01 00:00:00' AS DATETIME) + INTERVAL $n * 30 SECOND
FROM $from
WHERE $n <= $rows;
SELECT ROW_COUNT();
SQL
)
loaded=$EPOCHREALTIME

if [ "${SKIP_CLICKHOUSE:-0}" != 1 ]; then
  curl -sS --fail-with-body "${CLICKHOUSE_URL:-http://127.0.0.1:8123}/" \
    --data-binary "CREATE DATABASE IF NOT EXISTS reporting" >/dev/null
fi
echo "customers: $inserted rows in $database.customers" \
  "($(awk -v a="$started" -v b="$loaded" 'BEGIN{printf "%.1f", b-a}') s)"
