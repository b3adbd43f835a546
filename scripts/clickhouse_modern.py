"""A modern ClickHouse HTTP server for the tests, from PyPI's chdb-core (ClickHouse's engine as
a Python extension). Started and stopped by scripts/clickhouse-modern.sh; runs in the foreground
until it is killed.

    python clickhouse_modern.py <work dir> <port>

What works, found by experiment with chdb-core 26.9.0:
* the engine runs in clickhouse-local mode; `SYSTEM START LISTEN HTTP` starts the HTTP handler
  with the `http_port` and `listen_host` of `./config.xml` (the current directory when the
  query runs);
* the listener lives only as long as the query session that started it, so the same query
  string then blocks on a statement that never ends (one row per second, 10^9 rows);
* only the one-shot query API does this (`_chdb.query`); a session from `_chdb.connect()` answers
  `start_servers_callback is not set`, and a second START LISTEN in the same process fails;
* `chdb._chdb` is imported before changing directory (chdb's `__init__` changes into its own
  package directory while it loads the extension, and opens and closes an in-memory session).
"""

import os
import sys

BLOCK = "SELECT sleepEachRow(1) FROM numbers(1000000000) SETTINGS max_block_size = 1 FORMAT Null"


def main() -> int:
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        print("usage: clickhouse_modern.py <work dir> <port>", file=sys.stderr)
        return 2
    work = os.path.abspath(sys.argv[1])
    port = int(sys.argv[2])
    import chdb  # noqa: E402 (before chdir, see above)
    import chdb._chdb as engine  # noqa: E402

    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "config.xml"), "w", encoding="utf-8") as f:
        f.write(
            "<clickhouse>\n"
            f"  <http_port>{port}</http_port>\n"
            "  <listen_host>127.0.0.1</listen_host>\n"
            "</clickhouse>\n"
        )
    os.chdir(work)
    print(f"clickhouse-modern: chdb-core {chdb.__version__}, work dir {work}, port {port}", flush=True)
    res = engine.query(
        f"SYSTEM START LISTEN HTTP; {BLOCK}",
        "TabSeparated",
        path=os.path.join(work, "data"),
    )
    # Only reached when the listener could not start or the blocking query stopped.
    if res.has_error():
        print(f"clickhouse-modern: {res.error_message()}", file=sys.stderr, flush=True)
    else:
        print("clickhouse-modern: the serving query ended", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
