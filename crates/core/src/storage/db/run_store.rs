//! `RunStore` on both backends: runs, their tags, the queue's conditional transitions.

use super::*;

impl RunStore for DbStorage {
    fn add_run(&self, new: NewRun) -> Result<Run> {
        let now = now_dt();
        let run = Run {
            run_id: new
                .run_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            job_name: new.job_name,
            status: new.status.unwrap_or(RunStatus::NotStarted),
            tags: new.tags,
            run_config: if new.run_config.is_null() {
                serde_json::json!({})
            } else {
                new.run_config
            },
            asset_selection: new.asset_selection,
            step_keys_to_execute: new.step_keys_to_execute,
            parent_run_id: new.parent_run_id,
            root_run_id: new.root_run_id,
            code_location: new.code_location,
            create_time: dt_to_ts(now),
            update_time: dt_to_ts(now),
            start_time: None,
            end_time: None,
        };
        let body = to_json("run body", &run).map_err(|e| self.fail(e))?;
        write_tx!(self, |c| {
            let inserted = diesel::insert_into(runs::table)
                .values((
                    runs::run_id.eq(&run.run_id),
                    runs::pipeline_name.eq(&run.job_name),
                    runs::status.eq(run.status.as_str()),
                    runs::run_body.eq(&body),
                    runs::partition.eq(tag(&run.tags, "dagster/partition")),
                    runs::partition_set.eq(tag(&run.tags, "dagster/partition_set")),
                    runs::backfill_id.eq(tag(&run.tags, tags::BACKFILL)),
                    runs::create_timestamp.eq(now),
                    runs::update_timestamp.eq(now),
                ))
                .on_conflict(runs::run_id)
                .do_nothing()
                .execute(c)?;
            if inserted == 0 {
                return Err(StorageError::RunExists(run.run_id.clone()).into());
            }
            if matches!(run.status, RunStatus::Queued | RunStatus::Canceling) {
                c.notify_runs(&[(run.status, run.run_id.as_str())])?;
            }
            // A new run (its id was refused above if taken): nothing to replace.
            upsert_run_tags!(
                c,
                run.tags
                    .iter()
                    .map(|(k, v)| (run.run_id.as_str(), k.as_str(), v.as_str()))
            );
            Ok(())
        })?;
        Ok(run)
    }

    fn get_run(&self, run_id: &str) -> Result<Option<Run>> {
        with_conn!(self, |c| {
            let row: Option<RunRow> = runs::table
                .filter(runs::run_id.eq(run_id))
                .select(RunRow::as_select())
                .first(c)
                .optional()?;
            let Some(row) = row else { return Ok(None) };
            let tags: Vec<(String, String)> = run_tags::table
                .filter(run_tags::run_id.eq(run_id))
                .select((run_tags::key, run_tags::value))
                .load(c)?;
            Ok(Some(row.into_run(tags.into_iter().collect())?))
        })
    }

    fn list_runs(
        &self,
        filter: &RunsFilter,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Run>> {
        with_conn!(self, |c| {
            let ordered = if filter.oldest_first {
                runs::table
                    .select(RunRow::as_select())
                    .order(runs::id.asc())
                    .into_boxed()
            } else {
                runs::table
                    .select(RunRow::as_select())
                    .order(runs::id.desc())
                    .into_boxed()
            };
            let mut q = filter_runs!(ordered, filter);
            if let Some(cursor) = cursor {
                let cursor_id: Option<i64> = runs::table
                    .filter(runs::run_id.eq(cursor))
                    .select(runs::id)
                    .first(c)
                    .optional()?;
                match cursor_id {
                    Some(id) if filter.oldest_first => q = q.filter(runs::id.gt(id)),
                    Some(id) => q = q.filter(runs::id.lt(id)),
                    // The cursor run was deleted: nothing can be placed after it.
                    None => return Ok(Vec::new()),
                }
            }
            if let Some(limit) = limit {
                q = q.limit(to_i64(limit));
            }
            let rows: Vec<RunRow> = q.load(c)?;
            let ids: Vec<&str> = rows.iter().map(|r| r.run_id.as_str()).collect();
            let mut tags: HashMap<String, BTreeMap<String, String>> = HashMap::new();
            for chunk in ids.chunks(CHUNK) {
                for (run_id, k, v) in c.tags_of_runs(chunk)? {
                    tags.entry(run_id).or_default().insert(k, v);
                }
            }
            rows.into_iter()
                .map(|r| {
                    let t = tags.remove(&r.run_id).unwrap_or_default();
                    r.into_run(t)
                })
                .collect()
        })
    }

    fn count_runs(&self, filter: &RunsFilter) -> Result<i64> {
        with_conn!(self, |c| {
            let q = filter_runs!(
                runs::table.select(diesel::dsl::count_star()).into_boxed(),
                filter
            );
            Ok(q.get_result::<i64>(c)?)
        })
    }

    fn run_tag_keys(&self) -> Result<Vec<String>> {
        with_conn!(self, |c| {
            let rows: Vec<TagKeyRow> = diesel::sql_query(DISTINCT_TAG_KEYS).load(c)?;
            Ok(rows.into_iter().filter_map(|r| r.key).collect())
        })
    }

    fn run_tag_values(
        &self,
        keys: Option<&[String]>,
        value_prefix: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<(String, Vec<String>)>> {
        // An exact, case-sensitive prefix test on both backends (SQLite's LIKE ignores ASCII
        // case; Postgres' range comparisons follow the database collation).
        let prefix = value_prefix
            .filter(|p| !p.is_empty())
            .map(|p| (p, i32::try_from(p.chars().count()).unwrap_or(i32::MAX)));
        let mut pairs: Vec<(String, String)> = Vec::new();
        let key_chunks: Vec<Option<&[String]>> = match keys {
            Some(keys) => keys.chunks(CHUNK).map(Some).collect(),
            None => vec![None],
        };
        // Keys are disjoint between chunks and each chunk is ordered by (key, value), so the
        // chunks' results concatenated and sorted stay ordered; the limit applies overall.
        with_conn!(self, |c| {
            for chunk in &key_chunks {
                let mut q = run_tags::table
                    .select((run_tags::key, run_tags::value))
                    .distinct()
                    .order((run_tags::key.asc(), run_tags::value.asc()))
                    .into_boxed();
                if let Some(chunk) = chunk {
                    q = q.filter(run_tags::key.eq_any(*chunk));
                }
                if let Some((p, n)) = prefix {
                    q = q.filter(substr(run_tags::value, 1, n).eq(p));
                }
                if let Some(limit) = limit {
                    q = q.limit(to_i64(limit));
                }
                let rows: Vec<(String, String)> = q.load(c)?;
                pairs.extend(rows);
            }
            Ok(())
        })?;
        pairs.sort();
        if let Some(limit) = limit {
            pairs.truncate(limit);
        }
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in pairs {
            match out.last_mut() {
                Some((last, values)) if *last == k => values.push(v),
                _ => out.push((k, vec![v])),
            }
        }
        Ok(out)
    }

    fn add_run_tags(&self, run_id: &str, new_tags: &BTreeMap<String, String>) -> Result<()> {
        write_tx!(self, |c| {
            // Lock order everywhere: run lock, runs row, run_tags rows.
            c.lock_runs(&[run_id])?;
            let body: Option<String> = runs::table
                .filter(runs::run_id.eq(run_id))
                .select(runs::run_body)
                .first(c)
                .optional()?;
            let Some(body) = body else {
                return Err(StorageError::RunNotFound(run_id.to_string()).into());
            };
            let mut v: serde_json::Value =
                from_json(|| format!("runs.run_body of run {run_id}"), &body)?;
            if let Some(obj) = v.get_mut("tags").and_then(|t| t.as_object_mut()) {
                for (k, val) in new_tags {
                    obj.insert(k.clone(), serde_json::Value::String(val.clone()));
                }
            }
            diesel::update(runs::table.filter(runs::run_id.eq(run_id)))
                .set(runs::run_body.eq(to_json("run body", &v)?))
                .execute(c)?;
            upsert_run_tags!(
                c,
                new_tags
                    .iter()
                    .map(|(k, val)| (run_id, k.as_str(), val.as_str()))
            );
            Ok(())
        })
    }

    fn delete_run(&self, run_id: &str) -> Result<bool> {
        write_tx!(self, |c| {
            c.lock_runs(&[run_id])?;
            diesel::delete(event_logs::table.filter(event_logs::run_id.eq(run_id))).execute(c)?;
            diesel::delete(run_tags::table.filter(run_tags::run_id.eq(run_id))).execute(c)?;
            let n = diesel::delete(runs::table.filter(runs::run_id.eq(run_id))).execute(c)?;
            Ok(n > 0)
        })
    }

    fn wipe_runs(&self) -> Result<()> {
        write_tx!(self, |c| {
            diesel::delete(event_logs::table).execute(c)?;
            // The asset index points at events that no longer exist.
            diesel::delete(asset_keys::table).execute(c)?;
            diesel::delete(run_tags::table).execute(c)?;
            diesel::delete(runs::table).execute(c)?;
            Ok(())
        })
    }

    fn record_worker_heartbeat(&self, run_id: &str, pid: u32, at: f64) -> Result<()> {
        with_conn!(self, |c| {
            let n = diesel::update(runs::table.filter(runs::run_id.eq(run_id)))
                .set((
                    runs::worker_pid.eq(Some(i64::from(pid))),
                    runs::worker_heartbeat.eq(Some(at)),
                ))
                .execute(c)?;
            if n == 0 {
                return Err(StorageError::RunNotFound(run_id.to_string()).into());
            }
            Ok(())
        })
    }

    fn worker_heartbeat(&self, run_id: &str) -> Result<Option<(u32, f64)>> {
        with_conn!(self, |c| {
            let row: Option<(Option<i64>, Option<f64>)> = runs::table
                .filter(runs::run_id.eq(run_id))
                .select((runs::worker_pid, runs::worker_heartbeat))
                .first(c)
                .optional()?;
            match row {
                Some((Some(pid), Some(at))) => {
                    let pid = u32::try_from(pid).map_err(|_| {
                        corrupt(
                            format!("runs.worker_pid of run {run_id}"),
                            format!("{pid} is not a pid"),
                        )
                    })?;
                    Ok(Some((pid, at)))
                }
                _ => Ok(None),
            }
        })
    }
}
