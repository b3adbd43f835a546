use super::*;

#[test]
fn describe_hides_password() {
    let b = StorageBackend::Postgres {
        url: "postgres://dagster:p%40ss@db.example:6543/prod?sslmode=require".into(),
    };
    assert_eq!(b.describe(), "postgres://dagster@db.example:6543/prod");
    assert_eq!(b.secrets(), vec!["p@ss".to_string(), "p%40ss".to_string()]);
    assert!(!format!("{b:?}").contains("p%40ss"));
    let kw = StorageBackend::Postgres {
        url: "host=h port=1 user=u password='s e' dbname=d".into(),
    };
    assert_eq!(kw.describe(), "postgres://u@h:1/d");
    assert_eq!(kw.secrets(), vec!["s e".to_string()]);
    let weird = StorageBackend::Postgres {
        url: "postgresql://u:a@b/c@host/db".into(),
    };
    assert_eq!(weird.describe(), "postgres://u@host:5432/db");
}

#[test]
fn timestamps_round_trip_at_microseconds() {
    let ts = 1_700_000_000.123_456;
    assert_eq!(dt_to_ts(ts_to_dt(ts)), ts);
    assert_eq!(ts_to_dt(f64::NAN), NaiveDateTime::default());
    let _ = ts_to_dt(f64::INFINITY);
    let _ = ts_to_dt(-1e300);
}

#[test]
fn connect_timeout_is_added_once() {
    assert_eq!(
        with_connect_timeout("postgres://u@h/db", Duration::from_secs(10)),
        "postgres://u@h/db?connect_timeout=10"
    );
    assert_eq!(
        with_connect_timeout("postgres://u@h/db?a=b", Duration::from_millis(1)),
        "postgres://u@h/db?a=b&connect_timeout=2"
    );
    assert_eq!(
        with_connect_timeout("host=h connect_timeout=3", Duration::from_secs(9)),
        "host=h connect_timeout=3"
    );
}
