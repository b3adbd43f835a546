//! One module per `dagster` subcommand group.

pub mod api;
pub mod asset;
pub mod definitions;
pub mod dev;
pub mod instance;
pub mod job;
pub mod resource;
pub mod run;
pub mod schedule;
pub mod sensor;
