use super::*;

#[test]
fn cron_validation() {
    assert_eq!(validate_cron("0 * * * *").as_deref(), Ok("0 * * * *"));
    assert_eq!(
        validate_cron("  */5   1-3 * * MON-FRI ").as_deref(),
        Ok("*/5 1-3 * * MON-FRI")
    );
    assert_eq!(validate_cron("@daily").as_deref(), Ok("0 0 * * *"));
    assert_eq!(validate_cron("0 0 29 2 *").as_deref(), Ok("0 0 29 2 *"));
    for bad in [
        "61 * * * *",
        "0 24 * * *",
        "0 0 30 2 *",
        "0 0 31 4 *",
        "* * * *",
        "0 * * * * *",
        "@often",
        "x * * * *",
        "",
    ] {
        assert!(validate_cron(bad).is_err(), "{bad} should be rejected");
    }
}

#[test]
fn names_and_keys() {
    assert!(is_valid_name("demo_job1"));
    assert!(!is_valid_name("demo-job"));
    assert!(parse_asset_key("a//b").is_err());
    assert!(parse_asset_key("a b").is_err());
    assert_eq!(
        parse_asset_key("a/b"),
        Ok(AssetKey(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        closest(
            "minimum_interval_second",
            SENSOR_COMMON_KEYS.iter().copied()
        ),
        Some("minimum_interval_seconds")
    );
}
