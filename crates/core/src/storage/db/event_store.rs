//! `EventLogStore` on both backends: the event log, asset materializations and their index.

use super::*;

/// `event_logs` rows `(id, event JSON)` as records.
pub(super) fn event_records(
    rows: impl IntoIterator<Item = (i64, String)>,
) -> Result<Vec<EventRecord>, DbErr> {
    rows.into_iter()
        .map(|(id, body)| {
            let event: NewEvent = from_json(|| format!("event_logs row {id}"), &body)?;
            Ok(EventRecord {
                storage_id: id,
                event,
            })
        })
        .collect()
}

impl EventLogStore for DbStorage {
    fn store_events(&self, events: &[NewEvent]) -> Result<StoreOutcome> {
        if events.is_empty() {
            return Ok(StoreOutcome::default());
        }
        let mut run_ids: Vec<&str> = events.iter().map(|e| e.run_id.as_str()).collect();
        run_ids.sort_unstable();
        run_ids.dedup();
        let (outcome, assets) = write_tx!(self, |c| {
            c.lock_runs(&run_ids)?;
            let mut out = StoreOutcome::default();
            let mut assets: BTreeMap<String, AssetUpdate> = BTreeMap::new();
            let mut wake: Vec<(RunStatus, &str)> = Vec::new();
            // What the batch's status changes write besides the status columns, collected and
            // written with one statement each after the loop (a batch of claimed runs is one
            // round trip per run, not five): each moved run's latest body (a run moving twice
            // in one batch builds on its first move), its tags (the last value of a key wins).
            let mut bodies: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
            let mut set_tags: BTreeMap<(&str, &str), &str> = BTreeMap::new();
            // Per event, the ENGINE_EVENT stored instead of a refused status change.
            let mut replacements: Vec<Option<NewEvent>> = Vec::with_capacity(events.len());
            for ev in events {
                let mut replacement = None;
                if let Some((event_type, target)) = ev
                    .event_type
                    .and_then(|t| RunStatus::from_event(t).map(|s| (t, s)))
                {
                    let start = (event_type == EventType::RunStart).then_some(ev.timestamp);
                    let end = target.is_finished().then_some(ev.timestamp);
                    let preds: Vec<&str> = target
                        .allowed_predecessors()
                        .iter()
                        .map(|s| s.as_str())
                        .collect();
                    // RETURNING: the body to update, without a second round trip.
                    let moved: Option<(String, Option<f64>, Option<f64>)> = diesel::update(
                        runs::table
                            .filter(runs::run_id.eq(&ev.run_id))
                            .filter(runs::status.eq_any(preds)),
                    )
                    .set((
                        runs::status.eq(target.as_str()),
                        runs::update_timestamp.eq(ts_to_dt(ev.timestamp)),
                        runs::start_time.eq(coalesce(runs::start_time, start)),
                        runs::end_time.eq(coalesce(end, runs::end_time)),
                    ))
                    .returning((runs::run_body, runs::start_time, runs::end_time))
                    .get_result(c)
                    .optional()?;
                    if let Some((body, start_time, end_time)) = moved {
                        // QUEUED: a run to claim; CANCELING: a run to watch; finished: a
                        // slot freed for a queue held back by its limits.
                        if matches!(target, RunStatus::Queued | RunStatus::Canceling)
                            || target.is_finished()
                        {
                            wake.push((target, ev.run_id.as_str()));
                        }
                        let mut v = match bodies.remove(ev.run_id.as_str()) {
                            Some(v) => v,
                            None => {
                                from_json(|| format!("runs.run_body of run {}", ev.run_id), &body)?
                            }
                        };
                        let reason = match (&ev.data, target) {
                            (
                                EventData::Failure {
                                    reason: Some(r), ..
                                },
                                RunStatus::Failure,
                            ) => Some(r.as_str()),
                            _ => None,
                        };
                        if let Some(obj) = v.as_object_mut() {
                            obj.insert("status".into(), serde_json::json!(target));
                            obj.insert(
                                "update_time".into(),
                                serde_json::json!(dt_to_ts(ts_to_dt(ev.timestamp))),
                            );
                            obj.insert("start_time".into(), serde_json::json!(start_time));
                            obj.insert("end_time".into(), serde_json::json!(end_time));
                            if let Some(t) = obj.get_mut("tags").and_then(|t| t.as_object_mut()) {
                                if let Some(r) = reason {
                                    t.insert(tags::FAILURE_REASON.into(), serde_json::json!(r));
                                }
                                for (k, val) in &ev.run_tags {
                                    t.insert(k.clone(), serde_json::json!(val));
                                }
                            }
                        }
                        bodies.insert(ev.run_id.as_str(), v);
                        let reason_tag = reason.map(|r| (tags::FAILURE_REASON, r));
                        for (k, val) in reason_tag
                            .into_iter()
                            .chain(ev.run_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        {
                            set_tags.insert((ev.run_id.as_str(), k), val);
                        }
                    } else {
                        let current: Option<String> = runs::table
                            .filter(runs::run_id.eq(&ev.run_id))
                            .select(runs::status)
                            .first(c)
                            .optional()?;
                        let current = current.as_deref().and_then(RunStatus::parse);
                        tracing::warn!(
                            run.id = %ev.run_id,
                            event = event_type.name(),
                            current = current.map(RunStatus::as_str),
                            "refused run status transition"
                        );
                        out.rejected.push((
                            ev.run_id.clone(),
                            event_type.name().to_string(),
                            current,
                        ));
                        replacement = Some(refusal_event(ev, event_type, target, current));
                    }
                }
                replacements.push(replacement);
            }
            let bodies: Vec<(&str, String)> = bodies
                .into_iter()
                .map(|(id, v)| Ok((id, to_json("run body", &v)?)))
                .collect::<Result<_, DbErr>>()?;
            c.set_run_bodies(&bodies)?;
            upsert_run_tags!(c, set_tags.into_iter().map(|((id, k), v)| (id, k, v)));
            // The events, one multi-row INSERT per chunk. Ids come from the table's sequence
            // (Postgres) or rowid (SQLite) in VALUES order, so the sorted returned ids are
            // the rows' ids in input order (RETURNING itself promises no order).
            let written: Vec<&NewEvent> = events
                .iter()
                .zip(&replacements)
                .map(|(ev, r)| r.as_ref().unwrap_or(ev))
                .collect();
            let asset_keys: Vec<Option<String>> = written
                .iter()
                .map(|w| {
                    w.event_type
                        .filter(|t| t.is_asset_event())
                        .and_then(|_| w.asset_key())
                        .map(AssetKey::to_db_string)
                })
                .collect();
            let mut ids: Vec<i64> = Vec::with_capacity(written.len());
            for (chunk, keys) in written.chunks(CHUNK).zip(asset_keys.chunks(CHUNK)) {
                let rows = chunk
                    .iter()
                    .zip(keys)
                    .map(|(w, key)| {
                        Ok((
                            event_logs::run_id.eq(&w.run_id),
                            event_logs::event.eq(to_json("event", w)?),
                            event_logs::dagster_event_type
                                .eq(w.event_type.map(EventType::stored_value)),
                            event_logs::timestamp.eq(ts_to_dt(w.timestamp)),
                            event_logs::step_key.eq(&w.step_key),
                            event_logs::asset_key.eq(key),
                            event_logs::partition.eq(key.as_ref().and_then(|_| w.partition())),
                        ))
                    })
                    .collect::<Result<Vec<_>, DbErr>>()?;
                let mut got: Vec<i64> = diesel::insert_into(event_logs::table)
                    .values(rows)
                    .returning(event_logs::id)
                    .get_results(c)?;
                got.sort_unstable();
                ids.extend(got);
            }
            for (((ev, replacement), id), asset_key) in
                events.iter().zip(&replacements).zip(ids).zip(asset_keys)
            {
                if replacement.is_some() {
                    continue;
                }
                out.storage_ids.push(id);
                if let Some(key) = asset_key {
                    let update = assets.entry(key).or_insert(AssetUpdate {
                        materialization: None,
                    });
                    if ev.event_type == Some(EventType::AssetMaterialization) {
                        let record = EventRecord {
                            storage_id: id,
                            event: ev.clone(),
                        };
                        update.materialization =
                            Some((record, ev.run_id.clone(), ts_to_dt(ev.timestamp)));
                    }
                }
            }
            c.notify_runs(&wake)?;
            if c.assets_after_commit() {
                return Ok((out, assets));
            }
            upsert_assets!(c, assets);
            Ok((out, BTreeMap::new()))
        })?;
        if !assets.is_empty() {
            // Postgres: the asset rows are updated after the events committed, each in its own
            // short statement. Inside the transaction, every run materializing the same asset
            // would queue on its row until the holder's COMMIT came back from a client that,
            // on a busy host, waits for the CPU (measured: 200 ms per row lock at 70 runs/s).
            // The rows are a pointer to the latest materialization; the events are the record.
            // A failure here is retried once and then logged: the events stay stored (storing
            // them again would duplicate them), and the next materialization moves the pointer.
            let mut result = with_conn!(self, |c| {
                upsert_assets!(c, assets.clone());
                Ok(())
            });
            if result.is_err() {
                result = with_conn!(self, |c| {
                    upsert_assets!(c, assets.clone());
                    Ok(())
                });
            }
            if let Err(e) = result {
                tracing::error!(error = %e, assets = ?assets.keys().collect::<Vec<_>>(), "updating the assets' latest materialization failed; their events are stored");
            }
        }
        Ok(outcome)
    }

    fn events_for_run(&self, run_id: &str, after: Option<i64>, limit: usize) -> Result<EventPage> {
        with_conn!(self, |c| {
            let rows: Vec<(i64, String)> = event_logs::table
                .filter(event_logs::run_id.eq(run_id))
                .filter(event_logs::id.gt(after.unwrap_or(0)))
                .order(event_logs::id.asc())
                .select((event_logs::id, event_logs::event))
                .limit(to_i64(limit).saturating_add(1))
                .load(c)?;
            let has_more = rows.len() > limit;
            let events = event_records(rows.into_iter().take(limit))?;
            let cursor = events.last().map(|e| e.storage_id).or(after);
            Ok(EventPage {
                events,
                cursor,
                has_more,
            })
        })
    }

    fn events_for_step(
        &self,
        run_id: &str,
        step_key: &str,
        limit: usize,
    ) -> Result<Vec<EventRecord>> {
        with_conn!(self, |c| {
            let rows: Vec<(i64, String)> = event_logs::table
                .filter(event_logs::run_id.eq(run_id))
                .filter(event_logs::step_key.eq(step_key))
                .order(event_logs::id.asc())
                .select((event_logs::id, event_logs::event))
                .limit(to_i64(limit))
                .load(c)?;
            event_records(rows)
        })
    }

    fn latest_event_id(&self) -> Result<Option<i64>> {
        with_conn!(self, |c| {
            let id: Option<i64> = event_logs::table
                .select(diesel::dsl::max(event_logs::id))
                .first(c)?;
            Ok(id)
        })
    }

    fn asset_records(&self, keys: Option<&[AssetKey]>) -> Result<Vec<AssetRecord>> {
        with_conn!(self, |c| {
            type Row = (String, Option<String>, Option<String>);
            let base = || {
                asset_keys::table
                    .filter(asset_keys::wipe_timestamp.is_null())
                    .select((
                        asset_keys::asset_key,
                        asset_keys::last_materialization,
                        asset_keys::last_run_id,
                    ))
                    .order(asset_keys::asset_key.asc())
            };
            let rows: Vec<Row> = match keys {
                None => base().load(c)?,
                Some(keys) => {
                    let strs: Vec<String> = keys.iter().map(AssetKey::to_db_string).collect();
                    let mut rows = Vec::new();
                    for chunk in strs.chunks(CHUNK) {
                        rows.extend(
                            base()
                                .filter(asset_keys::asset_key.eq_any(chunk))
                                .load::<Row>(c)?,
                        );
                    }
                    rows.sort_by(|a, b| a.0.cmp(&b.0));
                    rows
                }
            };
            rows.into_iter()
                .map(|(key, last, last_run_id)| {
                    let asset_key = AssetKey::from_db_string(&key).ok_or_else(|| {
                        corrupt(
                            "asset_keys.asset_key",
                            format!("not a JSON string array: {key}"),
                        )
                    })?;
                    let last_materialization = match last {
                        Some(s) => Some(from_json(
                            || format!("asset_keys.last_materialization of {key}"),
                            &s,
                        )?),
                        None => None,
                    };
                    Ok(AssetRecord {
                        asset_key,
                        last_materialization,
                        last_run_id,
                    })
                })
                .collect()
        })
    }

    fn asset_events(
        &self,
        key: &AssetKey,
        types: &[EventType],
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRecord>> {
        let key = key.to_db_string();
        let types: Vec<&str> = types.iter().map(|t| t.stored_value()).collect();
        with_conn!(self, |c| {
            let mut q = event_logs::table
                .filter(event_logs::asset_key.eq(&key))
                .filter(event_logs::dagster_event_type.eq_any(&types))
                .select((event_logs::id, event_logs::event))
                .order(event_logs::id.desc())
                .limit(to_i64(limit))
                .into_boxed();
            if let Some(before) = before {
                q = q.filter(event_logs::id.lt(before));
            }
            let rows: Vec<(i64, String)> = q.load(c)?;
            event_records(rows)
        })
    }

    fn wipe_asset(&self, key: &AssetKey) -> Result<()> {
        let key = key.to_db_string();
        write_tx!(self, |c| {
            diesel::update(asset_keys::table.filter(asset_keys::asset_key.eq(&key)))
                .set((
                    asset_keys::last_materialization.eq(None::<String>),
                    asset_keys::last_run_id.eq(None::<String>),
                    asset_keys::last_materialization_timestamp.eq(None::<NaiveDateTime>),
                    asset_keys::wipe_timestamp.eq(Some(now_dt())),
                ))
                .execute(c)?;
            // The events stay in their runs' logs but leave the asset index.
            diesel::update(event_logs::table.filter(event_logs::asset_key.eq(&key)))
                .set(event_logs::asset_key.eq(None::<String>))
                .execute(c)?;
            Ok(())
        })
    }
}
