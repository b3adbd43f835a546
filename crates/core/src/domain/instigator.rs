//! Schedule and sensor vocabulary: the status of an instigator and of a tick, as Dagster names
//! them (`InstigatorStatus`, `TickStatus`; stored as these names in `instigators.status` and
//! `job_ticks.status`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An enum of Dagster names: `as_str`, `parse`, `Display`, and comparison with the name as a
/// string (so `tick.status == "SUCCESS"` reads as it always did).
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

named_enum! {
    /// The stored status of a schedule or sensor.
    InstigatorStatus {
        Running = "RUNNING",
        Stopped = "STOPPED",
        /// No decision stored: the definition's `default_status` applies (Dagster's
        /// `DECLARED_IN_CODE`, what a reset writes).
        DeclaredInCode = "DECLARED_IN_CODE",
    }
}

named_enum! {
    /// The status of one schedule or sensor tick.
    TickStatus {
        /// Being evaluated (or left by an evaluator that died: resumed later).
        Started = "STARTED",
        Skipped = "SKIPPED",
        Success = "SUCCESS",
        Failure = "FAILURE",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_round_trip_and_compare_as_text() {
        for s in TickStatus::ALL {
            assert_eq!(TickStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in InstigatorStatus::ALL {
            assert_eq!(InstigatorStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(TickStatus::Success, "SUCCESS");
        assert_eq!(
            InstigatorStatus::DeclaredInCode.to_string(),
            "DECLARED_IN_CODE"
        );
        assert_eq!(TickStatus::parse("RUNNING"), None);
    }
}
