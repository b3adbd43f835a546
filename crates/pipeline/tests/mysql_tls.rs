//! The `mysql` resource over TLS against a private MariaDB started by the test (the shared
//! server on 3306 has no TLS and is not touched): resource check reports the cipher, a table
//! sync MariaDB(TLS) → ClickHouse equals the source, client certificates, and the errors for a
//! CA that does not match, `tls: true` against a server without TLS and config mistakes.
//!
//! The private server: certificates made with the `openssl` CLI, `mariadb-install-db` into a
//! temporary directory, `mariadbd` on a free port, killed on drop and, should the test process
//! die first, by a watchdog shell that polls the test's pid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sync_support;

use dagster_core::defs::{Definitions, Resource};
use dagster_pipeline::assets::table_sync::{SyncConfig, SyncMode};
use dagster_pipeline::resources::mysql::MysqlTls;
use dagster_pipeline::resources::{MysqlResource, MysqlSettings};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use sync_support::{assert_same, Env};

const PASSWORD: &str = "tls-secret-pw-7781";

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?} ({e}); the TLS tests need the `openssl` CLI and MariaDB's server binaries (`apt-get install openssl mariadb-server`)"));
    assert!(
        out.status.success(),
        "{what} failed: {cmd:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first of `names` found in `PATH`, `/usr/sbin` or `/usr/bin`.
fn binary(names: &[&str]) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    for n in names {
        for dir in path
            .split(':')
            .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"])
        {
            let p = Path::new(dir).join(n);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("none of {names:?} found in PATH, /usr/sbin or /usr/bin: install MariaDB's server (`apt-get install mariadb-server`)");
}

/// An EC P-256 CA (`<name>.pem`, `<name>.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    run(
        Command::new("openssl")
            .current_dir(dir)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args([
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
            ])
            .args(["-subj", &format!("/CN=dagster test {name}")]),
        "openssl: CA",
    );
}

/// A certificate `<name>.pem`/`<name>.key` signed by `ca`, with the given extensions.
fn make_cert(dir: &Path, ca: &str, name: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    run(
        Command::new("openssl")
            .current_dir(dir)
            .args([
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-keyout", &format!("{name}.key")])
            .args([
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]),
        "openssl: certificate request",
    );
    run(
        Command::new("openssl")
            .current_dir(dir)
            .args(["x509", "-req", "-in", &format!("{name}.csr"), "-CA"])
            .args([&format!("{ca}.pem"), "-CAkey", &format!("{ca}.key")])
            .args([
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.pem"),
            ])
            .args(["-extfile", &format!("{name}.ext")]),
        "openssl: sign",
    );
}

/// A private MariaDB with TLS on 127.0.0.1:`port`, users `tls` (password, REQUIRE SSL) and
/// `tls_x509` (REQUIRE X509: a client certificate signed by the CA). Killed on drop.
struct TlsServer {
    dir: tempfile::TempDir,
    port: u16,
    server: Child,
    watchdog: Child,
}

impl TlsServer {
    fn start() -> TlsServer {
        let dir = tempfile::Builder::new()
            .prefix("mariadb-tls-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        make_ca(d, "ca");
        make_ca(d, "other-ca");
        make_cert(
            d,
            "ca",
            "server",
            "subjectAltName=DNS:mariadb.test\nextendedKeyUsage=serverAuth\n",
        );
        make_cert(d, "ca", "client", "extendedKeyUsage=clientAuth\n");
        std::fs::write(
            d.join("init.sql"),
            format!(
                "CREATE USER 'tls'@'%' IDENTIFIED BY '{PASSWORD}' REQUIRE SSL;
                 GRANT ALL ON *.* TO 'tls'@'%';
                 CREATE USER 'tls_x509'@'%' REQUIRE X509;
                 GRANT ALL ON *.* TO 'tls_x509'@'%';\n"
            ),
        )
        .unwrap();
        let root = String::from_utf8_lossy(
            &Command::new("id")
                .arg("-u")
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default(),
        )
        .trim()
            == "0";
        let data = d.join("data");
        let mut install = Command::new(binary(&["mariadb-install-db", "mysql_install_db"]));
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--skip-test-db", "--auth-root-authentication-method=normal"])
            .arg("--innodb-log-file-size=4M");
        if root {
            install.arg("--user=root");
        }
        run(&mut install, "mariadb-install-db");
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let log = d.join(format!("error-{port}.log"));
            let mut cmd = Command::new(binary(&["mariadbd", "mysqld"]));
            cmd.arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--socket={}", d.join("mysqld.sock").display()))
                .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
                .arg(format!("--log-error={}", log.display()))
                .arg(format!("--ssl-ca={}", d.join("ca.pem").display()))
                .arg(format!("--ssl-cert={}", d.join("server.pem").display()))
                .arg(format!("--ssl-key={}", d.join("server.key").display()))
                .arg(format!("--init-file={}", d.join("init.sql").display()))
                .args(["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M"])
                .args(["--skip-log-bin", "--skip-name-resolve"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if root {
                cmd.arg("--user=root");
            }
            let mut server = cmd.spawn().expect("spawning mariadbd");
            // Kills the server if this process dies without dropping it.
            let mut watchdog = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; \
                     kill -9 {pid} 2>/dev/null; kill -0 {me} 2>/dev/null || rm -rf '{dir}'",
                    me = std::process::id(),
                    pid = server.id(),
                    dir = d.display(),
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawning the watchdog");
            let deadline = Instant::now() + Duration::from_secs(120);
            let ready = loop {
                last_log = std::fs::read_to_string(&log).unwrap_or_default();
                if last_log.contains("ready for connections") {
                    break true;
                }
                if let Ok(Some(status)) = server.try_wait() {
                    eprintln!("mariadbd on port {port} exited ({status}):\n{last_log}");
                    break false;
                }
                if Instant::now() > deadline {
                    let _ = server.kill();
                    let _ = server.wait();
                    panic!("mariadbd on port {port} not ready after 120 s:\n{last_log}");
                }
                wait_a_little();
            };
            if ready {
                return TlsServer {
                    dir,
                    port,
                    server,
                    watchdog,
                };
            }
            // E.g. the port was taken between the probe and the start: try another one.
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        panic!("mariadbd did not start:\n{last_log}");
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Settings for user `tls` with a TLS config trusting `ca` (and `skip_domain_validation`:
    /// the certificate is issued for `mariadb.test`, the tests connect to 127.0.0.1).
    fn settings(&self, database: &str, ca: &str) -> MysqlSettings {
        let mut s = MysqlSettings::new("127.0.0.1", "tls", database);
        s.port = self.port;
        s.password = Some(PASSWORD.into());
        s.connect_timeout = Duration::from_secs(10);
        s.tls = Some(MysqlTls {
            ca_file: Some(self.path(ca)),
            skip_domain_validation: true,
            ..MysqlTls::default()
        });
        s
    }
}

#[allow(clippy::disallowed_methods)] // a plain test thread waiting for a child process
fn wait_a_little() {
    std::thread::sleep(Duration::from_millis(50));
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

fn load(path: &Path, text: &str) -> Result<Definitions, String> {
    std::fs::write(path, text).unwrap();
    let env = |name: &str| match name {
        "TLS_TEST_PASSWORD" => Some(PASSWORD.to_string()),
        "TLS_TEST_SKIP_NAME" => Some("true".to_string()),
        _ => None,
    };
    dagster_core::defs::load_definitions_with_env(&dagster_pipeline::registry(), path, &env)
        .map(|(d, _)| d)
        .map_err(|e| e.to_string())
}

fn build(defs: &Definitions, name: &str) -> std::sync::Arc<dyn Resource> {
    let def = &defs.resources[name];
    defs.registry.resource_types[&def.type_name]
        .build(def)
        .unwrap()
}

const CUSTOMERS: &str = "CREATE TABLE customers (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  phone VARCHAR(32) NULL,
  balance DECIMAL(12,2) NOT NULL,
  notes TEXT NULL,
  updated_at DATETIME NOT NULL,
  KEY idx_updated (updated_at, id)
) DEFAULT CHARSET=utf8mb4";

const COLS: &[&str] = &["id", "name", "phone", "balance", "notes", "updated_at"];

/// One private server for the whole scenario (its start-up is most of the test's time).
#[test]
fn tls_check_sync_client_certificate_and_wrong_ca() {
    let server = TlsServer::start();
    let addr = format!("127.0.0.1:{}", server.port);

    // From a pipeline config: `tls` map with a path relative to the config file, `{env: VAR}`
    // for a flag; the check reports the cipher.
    let yaml = server.path("pipeline.yaml");
    let defs = load(
        &yaml,
        &format!(
            "resources:
  replica:
    type: mysql
    config:
      host: 127.0.0.1
      port: {port}
      user: tls
      password: {{env: TLS_TEST_PASSWORD}}
      database: mysql
      tls:
        ca_file: ca.pem
        skip_domain_validation: {{env: TLS_TEST_SKIP_NAME}}
  replica_x509:
    type: mysql
    config:
      host: 127.0.0.1
      port: {port}
      user: tls_x509
      database: mysql
      tls: {{ca_file: ca.pem, skip_domain_validation: true, client_cert: client.pem, client_key: client.key}}
  replica_plain:
    type: mysql
    config: {{host: 127.0.0.1, port: {port}, user: tls, password: {{env: TLS_TEST_PASSWORD}}, database: mysql, tls: false}}
",
            port = server.port
        ),
    )
    .unwrap();
    let report = build(&defs, "replica").check().unwrap();
    assert!(
        report.contains(&format!("mysql {addr} database `mysql`"))
            && report.contains("encrypted (TLSv1.")
            && report.contains(", cipher ")
            && report.contains("session time zone +00:00"),
        "{report}"
    );
    let report = build(&defs, "replica_x509").check().unwrap();
    assert!(report.contains("encrypted (TLSv1."), "{report}");
    // The server requires TLS of user `tls`: without it the login is refused.
    let err = format!("{:#}", build(&defs, "replica_plain").check().unwrap_err());
    assert!(
        err.contains("mysql resource `replica_plain`") && err.contains(&addr),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
    // A client certificate is required of `tls_x509`: without one it is refused.
    let mut no_cert = server.settings("mysql", "ca.pem");
    no_cert.user = "tls_x509".into();
    no_cert.password = None;
    let res = MysqlResource::new("no_cert", no_cert).unwrap();
    assert!(res.check().is_err());

    // A table sync MariaDB (TLS) → ClickHouse reads through the mysql crate and equals the
    // source: a full sync with parallel key-range readers, then an incremental one.
    let env = Env::with_mysql(|db| server.settings(db, "ca.pem"));
    env.mysql(&[
        CUSTOMERS,
        "INSERT INTO customers SELECT seq, CONCAT('Müller ', seq), IF(seq % 5 = 0, NULL, CONCAT('+1-555-', seq)),
           (seq % 100000) / 100.0, IF(seq % 10 = 0, CONCAT('note ', seq, ' — 🎉'), NULL),
           TIMESTAMP('2024-01-01') + INTERVAL seq SECOND
         FROM seq_1_to_2500",
    ]);
    let cfg = |mode| SyncConfig {
        mode,
        batch_size: 600,
        ..SyncConfig::incremental("", "customers", "", "customers", "updated_at", &["id"])
    };
    let full = env.sync(cfg(SyncMode::Full)).page_rows(500);
    let o = env.run(&full).unwrap();
    assert_eq!((o.rows_read, o.destination_rows), (2500, 2500));
    assert_same(&env, "customers", COLS, "id");
    env.mysql(&[
        "UPDATE customers SET balance = balance + 0.01, phone = NULL, updated_at = '2024-03-01 00:00:00' WHERE id % 7 = 0",
        "INSERT INTO customers SELECT seq, 'new', NULL, 1.5, NULL, '2024-03-02 00:00:00' FROM seq_2501_to_2600",
    ]);
    let o = env.run(&env.sync(cfg(SyncMode::Incremental))).unwrap();
    assert_eq!(o.rows_read, 2500 / 7 + 100);
    assert_eq!(o.destination_rows, 2600);
    assert_same(&env, "customers", COLS, "id");

    // A CA that did not sign the server's certificate: a clear error, no password.
    let wrong = MysqlResource::new("replica", server.settings("mysql", "other-ca.pem")).unwrap();
    let err = format!("{:#}", wrong.check().unwrap_err());
    for needle in [
        "mysql resource `replica`",
        addr.as_str(),
        "cannot connect",
        "UnknownIssuer",
        "other-ca.pem",
        "not signed by a trusted CA",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in: {err}");
    }
    assert!(!err.contains(PASSWORD), "{err}");

    // The certificate is issued for `mariadb.test`: connecting to 127.0.0.1 fails the name
    // check unless `skip_domain_validation`.
    let mut strict = server.settings("mysql", "ca.pem");
    if let Some(t) = strict.tls.as_mut() {
        t.skip_domain_validation = false;
    }
    let err = format!(
        "{:#}",
        MysqlResource::new("replica", strict)
            .unwrap()
            .check()
            .unwrap_err()
    );
    for needle in [
        "not valid for name",
        "skip_domain_validation",
        addr.as_str(),
    ] {
        assert!(err.contains(needle), "missing `{needle}` in: {err}");
    }

    // A missing CA file at connect time (removed after the config was read).
    let mut missing = server.settings("mysql", "ca.pem");
    missing.tls = Some(MysqlTls {
        ca_file: Some(server.path("gone.pem")),
        ..MysqlTls::default()
    });
    let err = format!(
        "{:#}",
        MysqlResource::new("replica", missing)
            .unwrap()
            .check()
            .unwrap_err()
    );
    assert!(
        err.contains("mysql resource `replica`") && err.contains(&addr) && err.contains("gone.pem"),
        "{err}"
    );
}

/// `tls: true` against the shared server, which has no TLS: the connection fails and says so
/// (no silent plain-text fallback).
#[test]
fn tls_against_a_server_without_tls_fails_clearly() {
    let mut s = sync_support::mysql_settings("information_schema");
    s.password = Some(PASSWORD.into());
    s.tls = Some(MysqlTls::default());
    let res = MysqlResource::new("replica", s).unwrap();
    let err = format!("{:#}", res.check().unwrap_err());
    if err.contains("Connection refused") {
        panic!("MariaDB is not reachable at 127.0.0.1:3306 ({err}); start it with `service mariadb start` (see .ci/run)");
    }
    for needle in [
        "mysql resource `replica` (127.0.0.1:3306): cannot connect",
        "[TLS]",
        "the server does not offer TLS",
        "`tls: false`",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in: {err}");
    }
    assert!(!err.contains(PASSWORD), "{err}");
}

/// Config mistakes in `tls` are reported with file:line:column and key path.
#[test]
fn tls_config_errors_have_positions() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("pipeline.yaml");
    std::fs::write(dir.path().join("ca.pem"), "not checked at load time").unwrap();
    let err = load(
        &yaml,
        "resources:
  a:
    type: mysql
    config:
      host: h
      user: u
      database: d
      tls:
        ca_file: missing/ca.pem
        verify_name: false
        accept_invalid_certs: sometimes
        client_cert: ca.pem
  b:
    type: mysql
    config: {host: h, user: u, database: d, tls: maybe}
  c:
    type: mysql
    config: {host: h, user: u, database: d, tls: [true]}
  d:
    type: mysql
    config: {host: h, user: u, database: d, tls: {env: TLS_UNSET_VARIABLE}}
",
    )
    .unwrap_err();
    for needle in [
        "pipeline.yaml:9:18: error: resources.a.config.tls.ca_file: cannot read ",
        "missing/ca.pem",
        "resources.a.config.tls.verify_name: unknown key `verify_name`",
        "resources.a.config.tls.accept_invalid_certs: expected true or false, found `sometimes`",
        "resources.a.config.tls: `client_cert` and `client_key` go together",
        "resources.b.config.tls: expected true or false, found `maybe`",
        "resources.c.config.tls: expected a boolean (or {env: VAR}), found a list",
        "resources.d.config.tls: environment variable `TLS_UNSET_VARIABLE` is not set",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }

    // `enabled: false` turns TLS off (files not required); `tls: {env: VAR}` is a boolean.
    let defs = load(
        &yaml,
        "resources:
  a:
    type: mysql
    config:
      host: h
      user: u
      database: d
      tls: {enabled: false, ca_file: nowhere.pem}
  b:
    type: mysql
    config: {host: h, user: u, database: d, tls: {env: TLS_TEST_SKIP_NAME}}
  c:
    type: mysql
    config: {host: h, user: u, database: d, tls: {ca_file: ca.pem, accept_invalid_certs: true}}
",
    )
    .unwrap();
    let settings = |n: &str| MysqlSettings::from_config(n, &defs.resources[n].config).unwrap();
    assert_eq!(settings("a").tls, None);
    assert_eq!(settings("b").tls, Some(MysqlTls::default()));
    let c = settings("c").tls.unwrap();
    assert_eq!(
        c.ca_file.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
    assert!(c.accept_invalid_certs && !c.skip_domain_validation);
}
