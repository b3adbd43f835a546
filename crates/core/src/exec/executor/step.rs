//! One step of a run: attempts with retries and timeouts, on its own thread, and the events of its outcome.

use super::*;

/// Outcome of one attempt.
pub(super) enum Attempt {
    Ok(MaterializeResult),
    Err { error: ErrorInfo, interrupted: bool },
}

/// Runs one step with retries. Returns true on success.
pub(super) async fn run_step(env: Arc<StepEnv>, key: String, asset: AssetDef) -> bool {
    let started = Instant::now();
    let (stdout_path, stderr_path) = env.compute_logs.paths(&env.ev.run_id, &key);
    env.emit(
        env.ev
            .step(
                EventType::LogsCaptured,
                &key,
                &format!(
                    "Started capturing logs in process (pid: {}).",
                    std::process::id()
                ),
            )
            .data(EventData::LogsCaptured {
                file_key: key.clone(),
                step_keys: vec![key.clone()],
                stdout_path: stdout_path.display().to_string(),
                stderr_path: stderr_path.display().to_string(),
            }),
    );
    env.emit(env.ev.step(
        EventType::StepStart,
        &key,
        &format!("Started execution of step \"{key}\"."),
    ));

    let ok = run_attempts(&env, &key, &asset, stdout_path, stderr_path, started).await;
    if let Err(e) = env.compute_logs.mark_complete(&env.ev.run_id, &key) {
        tracing::warn!(step.key = %key, error = %e, "writing the compute log completion marker failed");
    }
    ok
}

pub(super) async fn run_attempts(
    env: &Arc<StepEnv>,
    key: &str,
    asset: &AssetDef,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    started: Instant,
) -> bool {
    // Resources first: a failed build fails the step without running it.
    let mut resources: BTreeMap<String, Arc<dyn Resource>> = BTreeMap::new();
    for name in &asset.required_resources {
        match env.resources.get(name) {
            Some(Ok(r)) => {
                resources.insert(name.clone(), r.clone());
            }
            Some(Err(e)) => {
                step_failed(env, key, asset, e.clone(), "USER_CODE_ERROR");
                return false;
            }
            None => {
                let e = ErrorInfo::new(format!("resource `{name}` was not initialized"))
                    .with_class("MissingResource");
                step_failed(env, key, asset, e, "FRAMEWORK_ERROR");
                return false;
            }
        }
    }
    let config = step_config(&asset.config, &env.run_config, key);
    let policy = asset.retry;
    let mut attempt: u32 = 1;
    loop {
        let params = StepContextParams {
            run_id: env.ev.run_id.clone(),
            job_name: env.ev.job_name.clone(),
            step_key: key.to_string(),
            asset_key: asset.key.clone(),
            attempt,
            config: config.clone(),
            stdout_path: stdout_path.clone(),
            stderr_path: stderr_path.clone(),
            resources: resources.clone(),
            cancel: CancelToken::new(),
            timeout: asset.timeout,
            logger: Arc::new(EventLogger {
                ev: env.ev.clone(),
                writer: env.writer.clone(),
            }),
        };
        match run_attempt(env, key, asset, params).await {
            Attempt::Ok(result) => {
                step_succeeded(env, key, asset, result, started);
                return true;
            }
            Attempt::Err { error, interrupted } => {
                let retries_used = attempt - 1;
                if !interrupted && !env.stopped() && retries_used < policy.max_retries {
                    let wait = policy.delay_for(attempt);
                    env.emit(
                        env.ev
                            .step(
                                EventType::StepUpForRetry,
                                key,
                                &format!(
                                    "Execution of step \"{key}\" failed and has requested a retry in {} seconds.",
                                    fmt_secs(wait)
                                ),
                            )
                            .level(LogLevel::Warning)
                            .data(EventData::Retry {
                                attempt,
                                max_retries: policy.max_retries,
                                wait_seconds: Some(wait.as_secs_f64()),
                                error: Some(error),
                            }),
                    );
                    if !wait.is_zero() {
                        let mut stop = env.stop.clone();
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = stop.wait_for(|s| *s != Stop::None) => {}
                        }
                    }
                    if env.stopped() {
                        let e = ErrorInfo::new(format!(
                            "Step {key} was interrupted while waiting to retry."
                        ))
                        .with_class("Interrupted");
                        step_failed(env, key, asset, e, "INTERRUPT");
                        return false;
                    }
                    attempt += 1;
                    env.emit(
                        env.ev
                            .step(
                                EventType::StepRestarted,
                                key,
                                &format!(
                                    "Started re-execution (attempt # {attempt}) of step \"{key}\"."
                                ),
                            )
                            .data(EventData::Retry {
                                attempt,
                                max_retries: policy.max_retries,
                                wait_seconds: None,
                                error: None,
                            }),
                    );
                    continue;
                }
                step_failed(
                    env,
                    key,
                    asset,
                    error,
                    if interrupted {
                        "INTERRUPT"
                    } else {
                        "USER_CODE_ERROR"
                    },
                );
                return false;
            }
        }
    }
}

/// One attempt on a dedicated thread, racing the timeout and the run's cancellation.
pub(super) async fn run_attempt(
    env: &Arc<StepEnv>,
    key: &str,
    asset: &AssetDef,
    params: StepContextParams,
) -> Attempt {
    let token = params.cancel.clone();
    let compute = asset.compute.clone();
    let kv = env.kv.clone();
    let (tx, mut rx) =
        oneshot::channel::<std::result::Result<anyhow::Result<MaterializeResult>, String>>();
    let spawned = std::thread::Builder::new()
        .name(format!("step:{key}"))
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(move || {
                let mut ctx = StepContext::new(params)
                    .map_err(|e| {
                        anyhow::Error::new(e).context("cannot open the step's compute log files")
                    })?
                    .with_kv(kv);
                compute.compute(&mut ctx)
            }))
            .map_err(|p| panic_message(p.as_ref()));
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Attempt::Err {
            error: ErrorInfo::new(format!("cannot start a thread for step {key}: {e}"))
                .with_class("SpawnError"),
            interrupted: false,
        };
    }

    let timeout = asset.timeout;
    let sleep_timeout = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending::<()>().await,
        }
    };
    let mut stop = env.stop.clone();
    let received = tokio::select! {
        r = &mut rx => Some(r),
        _ = sleep_timeout => {
            token.cancel();
            let secs = timeout.map(fmt_secs).unwrap_or_default();
            return Attempt::Err {
                error: ErrorInfo::new(format!("Step {key} timed out after {secs} s")).with_class("Timeout"),
                interrupted: false,
            };
        }
        _ = stop.wait_for(|s| *s != Stop::None) => None,
    };
    let received = match received {
        Some(r) => r,
        None => {
            // Run canceled: ask the step to stop and give it some time.
            token.cancel();
            match tokio::time::timeout(env.cancel_grace, &mut rx).await {
                Ok(r) => {
                    return match r {
                        Ok(Ok(Ok(result))) => Attempt::Ok(result),
                        Ok(Ok(Err(e))) => {
                            let mut error = ErrorInfo::new(format!(
                                "Step {key} was interrupted: the run was canceled."
                            ))
                            .with_class("Interrupted");
                            error.cause = Some(Box::new(ErrorInfo::from_anyhow(&e)));
                            Attempt::Err {
                                error,
                                interrupted: true,
                            }
                        }
                        Ok(Err(panic)) => Attempt::Err {
                            error: ErrorInfo::new(format!("Step {key} panicked: {panic}"))
                                .with_class("Panic"),
                            interrupted: true,
                        },
                        Err(_) => Attempt::Err {
                            error: ErrorInfo::new(format!(
                                "Step {key} was interrupted: the run was canceled."
                            ))
                            .with_class("Interrupted"),
                            interrupted: true,
                        },
                    };
                }
                Err(_) => {
                    return Attempt::Err {
                        error: ErrorInfo::new(format!(
                            "Step {key} was interrupted: the run was canceled and the step did not stop within {} s.",
                            fmt_secs(env.cancel_grace)
                        ))
                        .with_class("Interrupted"),
                        interrupted: true,
                    };
                }
            }
        }
    };
    match received {
        Ok(Ok(Ok(result))) => Attempt::Ok(result),
        Ok(Ok(Err(e))) => Attempt::Err {
            error: ErrorInfo::from_anyhow(&e),
            interrupted: false,
        },
        Ok(Err(panic)) => Attempt::Err {
            error: ErrorInfo::new(format!("Step {key} panicked: {panic}")).with_class("Panic"),
            interrupted: false,
        },
        Err(_) => Attempt::Err {
            error: ErrorInfo::new(format!("Step {key} ended without a result")).with_class("Panic"),
            interrupted: false,
        },
    }
}

pub(super) fn step_succeeded(
    env: &StepEnv,
    key: &str,
    asset: &AssetDef,
    result: MaterializeResult,
    started: Instant,
) {
    env.emit(
        env.ev
            .step(
                EventType::StepOutput,
                key,
                "Yielded output \"result\" of type \"Any\". (Type check passed).",
            )
            .data(EventData::Output {
                output_name: "result".into(),
            }),
    );
    env.emit(
        env.ev
            .step(
                EventType::AssetMaterialization,
                key,
                &format!("Materialized value {}.", asset.key.to_user_string()),
            )
            .level(LogLevel::Info)
            .data(EventData::Asset(Materialization {
                asset_key: asset.key.clone(),
                description: result.description,
                metadata: result.metadata,
                partition: None,
                tags: BTreeMap::new(),
            })),
    );
    env.emit(
        env.ev
            .step(
                EventType::StepSuccess,
                key,
                &format!(
                    "Finished execution of step \"{key}\" in {}ms.",
                    started.elapsed().as_millis()
                ),
            )
            .level(LogLevel::Info),
    );
}

pub(super) fn step_failed(
    env: &StepEnv,
    key: &str,
    asset: &AssetDef,
    error: ErrorInfo,
    reason: &str,
) {
    env.emit(
        env.ev
            .step(
                EventType::StepFailure,
                key,
                &format!("Execution of step \"{key}\" failed."),
            )
            .level(LogLevel::Error)
            .data(EventData::Failure {
                error,
                reason: Some(reason.to_string()),
            }),
    );
    env.emit(
        env.ev
            .step(
                EventType::AssetFailedToMaterialize,
                key,
                &format!(
                    "Asset {} failed to materialize.",
                    asset.key.to_user_string()
                ),
            )
            .level(LogLevel::Info)
            .data(EventData::Asset(Materialization {
                asset_key: asset.key.clone(),
                description: None,
                metadata: Vec::new(),
                partition: None,
                tags: BTreeMap::new(),
            })),
    );
}

/// The asset's config overlaid (recursively for objects) with run config `ops.<step>.config`.
pub(crate) fn step_config(
    base: &serde_json::Value,
    run_config: &serde_json::Value,
    step_key: &str,
) -> serde_json::Value {
    let mut out = base.clone();
    if let Some(over) = run_config
        .get("ops")
        .and_then(|o| o.get(step_key))
        .and_then(|o| o.get("config"))
    {
        overlay(&mut out, over);
    }
    out
}

pub(super) fn overlay(base: &mut serde_json::Value, over: &serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => overlay(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Seconds without a trailing `.0` (`5`, `0.25`).
pub(super) fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", d.as_secs())
    } else {
        format!("{s}")
    }
}
