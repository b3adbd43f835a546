//! Run execution: plan, executor (in-process steps, bounded concurrency, retries, timeouts,
//! cancellation through storage, worker heartbeats), compute logs, batched event writing,
//! run launcher and run coordinators, re-execution.
