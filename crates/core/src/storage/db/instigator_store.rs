//! `InstigatorStore` on both backends: schedule and sensor state, ticks.

use super::*;

impl InstigatorStore for DbStorage {
    fn get_instigator(&self, selector_id: &str) -> Result<Option<InstigatorState>> {
        with_conn!(self, |c| {
            let row: Option<InstigatorRow> = instigators::table
                .filter(instigators::selector_id.eq(selector_id))
                .select(InstigatorRow::as_select())
                .first(c)
                .optional()?;
            row.map(InstigatorRow::into_state).transpose()
        })
    }

    fn list_instigators(&self, instigator_type: Option<&str>) -> Result<Vec<InstigatorState>> {
        with_conn!(self, |c| {
            let mut q = instigators::table
                .select(InstigatorRow::as_select())
                .order((instigators::name.asc(), instigators::selector_id.asc()))
                .into_boxed();
            if let Some(t) = instigator_type {
                q = q.filter(instigators::instigator_type.eq(t));
            }
            let rows: Vec<InstigatorRow> = q.load(c)?;
            rows.into_iter().map(InstigatorRow::into_state).collect()
        })
    }

    fn upsert_instigator(&self, state: &InstigatorState) -> Result<()> {
        let now = now_dt();
        with_conn!(self, |c| {
            let body = to_json("instigator state", state)?;
            diesel::insert_into(instigators::table)
                .values((
                    instigators::selector_id.eq(&state.selector_id),
                    instigators::name.eq(&state.name),
                    instigators::status.eq(state.status.as_str()),
                    instigators::instigator_type.eq(&state.instigator_type),
                    instigators::instigator_body.eq(&body),
                    instigators::create_timestamp.eq(now),
                    instigators::update_timestamp.eq(now),
                ))
                .on_conflict(instigators::selector_id)
                .do_update()
                .set((
                    instigators::name.eq(excluded(instigators::name)),
                    instigators::status.eq(excluded(instigators::status)),
                    instigators::instigator_type.eq(excluded(instigators::instigator_type)),
                    instigators::instigator_body.eq(excluded(instigators::instigator_body)),
                    instigators::update_timestamp.eq(excluded(instigators::update_timestamp)),
                ))
                .execute(c)?;
            Ok(())
        })
    }

    fn create_tick(
        &self,
        selector_id: &str,
        tick_type: &str,
        timestamp: f64,
        unique: bool,
        body: &serde_json::Value,
    ) -> Result<Option<Tick>> {
        let now = now_dt();
        let unique_key = unique.then(|| format!("{selector_id}@{timestamp}"));
        let status = TickStatus::Started;
        with_conn!(self, |c| {
            let tick_body = to_json("tick body", body)?;
            let id: Option<i64> = diesel::insert_into(job_ticks::table)
                .values((
                    job_ticks::selector_id.eq(selector_id),
                    job_ticks::status.eq(status.as_str()),
                    job_ticks::tick_type.eq(tick_type),
                    job_ticks::timestamp.eq(timestamp),
                    job_ticks::tick_body.eq(&tick_body),
                    job_ticks::unique_key.eq(&unique_key),
                    job_ticks::failure_count.eq(body_failure_count(body)),
                    job_ticks::create_timestamp.eq(now),
                    job_ticks::update_timestamp.eq(now),
                ))
                .on_conflict(job_ticks::unique_key)
                .do_nothing()
                .returning(job_ticks::id)
                .get_result(c)
                .optional()?;
            Ok(id.map(|id| Tick {
                id,
                selector_id: selector_id.to_string(),
                status,
                tick_type: tick_type.to_string(),
                timestamp,
                body: body.clone(),
            }))
        })
    }

    fn update_tick(&self, id: i64, status: TickStatus, body: &serde_json::Value) -> Result<()> {
        with_conn!(self, |c| {
            let n = diesel::update(job_ticks::table.find(id))
                .set((
                    job_ticks::status.eq(status.as_str()),
                    job_ticks::tick_body.eq(to_json("tick body", body)?),
                    job_ticks::failure_count.eq(body_failure_count(body)),
                    job_ticks::update_timestamp.eq(now_dt()),
                ))
                .execute(c)?;
            if n == 0 {
                return Err(StorageError::TickNotFound(id).into());
            }
            Ok(())
        })
    }

    fn transition_tick(
        &self,
        id: i64,
        from: TickStatus,
        to: TickStatus,
        body: &serde_json::Value,
    ) -> Result<bool> {
        with_conn!(self, |c| {
            let n = diesel::update(
                job_ticks::table
                    .filter(job_ticks::id.eq(id))
                    .filter(job_ticks::status.eq(from.as_str())),
            )
            .set((
                job_ticks::status.eq(to.as_str()),
                job_ticks::tick_body.eq(to_json("tick body", body)?),
                job_ticks::failure_count.eq(body_failure_count(body)),
                job_ticks::update_timestamp.eq(now_dt()),
            ))
            .execute(c)?;
            Ok(n == 1)
        })
    }

    fn ticks_to_resume(&self, selector_id: &str, max_failure_count: u64) -> Result<Vec<Tick>> {
        let max = i64::try_from(max_failure_count).unwrap_or(i64::MAX);
        with_conn!(self, |c| {
            // Two range scans of idx_tick_selector_status: exhausted FAILURE ticks (count
            // above the maximum) and finished ticks are never read.
            let mut rows: Vec<TickRow> = job_ticks::table
                .filter(job_ticks::selector_id.eq(selector_id))
                .filter(job_ticks::status.eq(TickStatus::Started.as_str()))
                .select(TickRow::as_select())
                .load(c)?;
            if max >= 1 {
                rows.extend(
                    job_ticks::table
                        .filter(job_ticks::selector_id.eq(selector_id))
                        .filter(job_ticks::status.eq(TickStatus::Failure.as_str()))
                        .filter(job_ticks::failure_count.between(1, max))
                        .select(TickRow::as_select())
                        .load::<TickRow>(c)?,
                );
            }
            rows.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp).then(a.id.cmp(&b.id)));
            rows.into_iter().map(TickRow::into_tick).collect()
        })
    }

    fn purge_ticks(&self, tick_type: &str, status: TickStatus, before: f64) -> Result<usize> {
        with_conn!(self, |c| {
            Ok(diesel::delete(
                job_ticks::table
                    .filter(job_ticks::tick_type.eq(tick_type))
                    .filter(job_ticks::status.eq(status.as_str()))
                    .filter(job_ticks::timestamp.lt(before)),
            )
            .execute(c)?)
        })
    }

    fn list_ticks(&self, selector_id: &str, limit: usize) -> Result<Vec<Tick>> {
        with_conn!(self, |c| {
            let rows: Vec<TickRow> = job_ticks::table
                .filter(job_ticks::selector_id.eq(selector_id))
                .order((job_ticks::timestamp.desc(), job_ticks::id.desc()))
                .limit(to_i64(limit))
                .select(TickRow::as_select())
                .load(c)?;
            rows.into_iter().map(TickRow::into_tick).collect()
        })
    }

    fn find_ticks(
        &self,
        selector_id: &str,
        filter: &TickFilter,
        limit: usize,
    ) -> Result<Vec<Tick>> {
        with_conn!(self, |c| {
            let mut q = job_ticks::table
                .filter(job_ticks::selector_id.eq(selector_id))
                .into_boxed();
            if let Some(a) = filter.after {
                q = q.filter(job_ticks::timestamp.gt(a));
            }
            if let Some(b) = filter.before {
                q = q.filter(job_ticks::timestamp.lt(b));
            }
            if let Some(s) = &filter.statuses {
                q = q.filter(job_ticks::status.eq_any(s.iter().map(|t| t.as_str())));
            }
            if let Some(id) = filter.before_id {
                q = q.filter(job_ticks::id.lt(id));
            }
            let rows: Vec<TickRow> = q
                .order((job_ticks::timestamp.desc(), job_ticks::id.desc()))
                .limit(to_i64(limit))
                .select(TickRow::as_select())
                .load(c)?;
            rows.into_iter().map(TickRow::into_tick).collect()
        })
    }

    fn get_tick(&self, id: i64) -> Result<Option<Tick>> {
        with_conn!(self, |c| {
            let row: Option<TickRow> = job_ticks::table
                .filter(job_ticks::id.eq(id))
                .select(TickRow::as_select())
                .first(c)
                .optional()?;
            row.map(TickRow::into_tick).transpose()
        })
    }
}
