//! Jobs of the pipeline.
//!
//! A job is a selection of assets, declared in the pipeline config (`jobs:` in
//! `pipeline-config/*.yaml`), not in Rust:
//!
//! ```yaml
//! jobs:
//!   demo_job:
//!     selection: ["group:demo"]   # asset keys `a/b`, `group:<name>`, `+a/b` (with upstream), `*`
//!     tags: {team: data}
//!     max_concurrent_steps: 4
//! ```
//!
//! Schedules and sensors name these jobs (or the implicit `__ASSET_JOB` of all assets). This
//! module holds no Rust jobs yet; it is where job-level code (e.g. run-config builders) goes.
