#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use serde_json::json;

#[test]
fn run_config_overlays_asset_config() {
    let base = json!({"a": 1, "nested": {"x": 1, "y": 2}});
    let rc = json!({"ops": {"s": {"config": {"nested": {"y": 3}, "b": true}}}});
    assert_eq!(
        step_config(&base, &rc, "s"),
        json!({"a": 1, "b": true, "nested": {"x": 1, "y": 3}})
    );
    assert_eq!(step_config(&base, &rc, "other"), base);
    assert_eq!(step_config(&base, &json!({}), "s"), base);
}

#[test]
fn seconds_format() {
    assert_eq!(fmt_secs(Duration::from_secs(5)), "5");
    assert_eq!(fmt_secs(Duration::from_millis(250)), "0.25");
}

#[test]
fn panic_messages() {
    let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
    assert_eq!(panic_message(p.as_ref()), "boom 1");
    let p = std::panic::catch_unwind(|| std::panic::panic_any(5u8)).unwrap_err();
    assert_eq!(panic_message(p.as_ref()), "panic with a non-string payload");
}

#[tokio::test]
async fn interrupt_is_sticky() {
    let i = Interrupt::new();
    assert!(!i.is_triggered());
    let j = i.clone();
    let waiter = tokio::spawn(async move { j.triggered().await });
    i.trigger();
    waiter.await.unwrap();
    assert!(i.is_triggered());
    // Already triggered: resolves at once.
    i.triggered().await;
}
