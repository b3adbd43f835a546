//! `DaemonStore` (heartbeats) and `KvStore` (cursors, leases) on both backends.

use super::*;

impl DaemonStore for DbStorage {
    fn add_heartbeat(&self, hb: &DaemonHeartbeat) -> Result<()> {
        with_conn!(self, |c| {
            diesel::insert_into(daemon_heartbeats::table)
                .values((
                    daemon_heartbeats::daemon_type.eq(&hb.daemon_type),
                    daemon_heartbeats::daemon_id.eq(&hb.daemon_id),
                    daemon_heartbeats::timestamp.eq(hb.timestamp),
                    daemon_heartbeats::body.eq(to_json("daemon heartbeat", hb)?),
                ))
                .on_conflict(daemon_heartbeats::daemon_type)
                .do_update()
                .set((
                    daemon_heartbeats::daemon_id.eq(excluded(daemon_heartbeats::daemon_id)),
                    daemon_heartbeats::timestamp.eq(excluded(daemon_heartbeats::timestamp)),
                    daemon_heartbeats::body.eq(excluded(daemon_heartbeats::body)),
                ))
                .execute(c)?;
            Ok(())
        })
    }

    fn heartbeats(&self) -> Result<Vec<DaemonHeartbeat>> {
        with_conn!(self, |c| {
            let rows: Vec<HeartbeatRow> = daemon_heartbeats::table
                .order(daemon_heartbeats::daemon_type.asc())
                .select(HeartbeatRow::as_select())
                .load(c)?;
            rows.into_iter().map(HeartbeatRow::into_heartbeat).collect()
        })
    }

    fn wipe_heartbeats(&self) -> Result<()> {
        with_conn!(self, |c| {
            diesel::delete(daemon_heartbeats::table).execute(c)?;
            Ok(())
        })
    }
}

impl KvStore for DbStorage {
    fn kv_get(&self, key: &str) -> Result<Option<String>> {
        with_conn!(self, |c| {
            Ok(kvs::table
                .filter(kvs::key.eq(key))
                .select(kvs::value)
                .first(c)
                .optional()?)
        })
    }

    fn kv_set(&self, key: &str, value: &str) -> Result<()> {
        with_conn!(self, |c| {
            diesel::insert_into(kvs::table)
                .values((kvs::key.eq(key), kvs::value.eq(value)))
                .on_conflict(kvs::key)
                .do_update()
                .set(kvs::value.eq(excluded(kvs::value)))
                .execute(c)?;
            Ok(())
        })
    }

    fn kv_delete(&self, key: &str) -> Result<()> {
        with_conn!(self, |c| {
            diesel::delete(kvs::table.filter(kvs::key.eq(key))).execute(c)?;
            Ok(())
        })
    }

    fn kv_try_lease(&self, key: &str, owner: &str, now: f64, ttl: f64) -> Result<bool> {
        let new_value = serde_json::json!({"owner": owner, "expires": now + ttl}).to_string();
        // Read first; the write below is conditional on what was read.
        let current = self.kv_get(key)?;
        with_conn!(self, |c| {
            let Some(current) = &current else {
                let n = diesel::insert_into(kvs::table)
                    .values((kvs::key.eq(key), kvs::value.eq(&new_value)))
                    .on_conflict(kvs::key)
                    .do_nothing()
                    .execute(c)?;
                return Ok(n == 1);
            };
            let held: serde_json::Value = serde_json::from_str(current).unwrap_or_default();
            let holder = held.get("owner").and_then(|o| o.as_str()).unwrap_or("");
            let expires = held.get("expires").and_then(|e| e.as_f64()).unwrap_or(0.0);
            if holder != owner && expires > now {
                return Ok(false);
            }
            // Compare-and-swap: only if nobody changed the lease since it was read.
            let n = diesel::update(
                kvs::table
                    .filter(kvs::key.eq(key))
                    .filter(kvs::value.eq(current)),
            )
            .set(kvs::value.eq(&new_value))
            .execute(c)?;
            Ok(n == 1)
        })
    }

    fn kv_release_lease(&self, key: &str, owner: &str) -> Result<()> {
        // Read first; the delete below is conditional on what was read.
        let current = self.kv_get(key)?;
        with_conn!(self, |c| {
            if let Some(current) = &current {
                let held: serde_json::Value = serde_json::from_str(current).unwrap_or_default();
                if held.get("owner").and_then(|o| o.as_str()) == Some(owner) {
                    diesel::delete(
                        kvs::table
                            .filter(kvs::key.eq(key))
                            .filter(kvs::value.eq(current)),
                    )
                    .execute(c)?;
                }
            }
            Ok(())
        })
    }

    fn kv_purge_expired_leases(&self, prefix: &str, before: f64) -> Result<usize> {
        // LIKE with `prefix` escaped, so `_`/`%` in it match themselves.
        let mut pattern = String::with_capacity(prefix.len() + 1);
        for ch in prefix.chars() {
            if matches!(ch, '\\' | '%' | '_') {
                pattern.push('\\');
            }
            pattern.push(ch);
        }
        pattern.push('%');
        with_conn!(self, |c| {
            let rows: Vec<(String, String)> = kvs::table
                .filter(kvs::key.like(&pattern).escape('\\'))
                .select((kvs::key, kvs::value))
                .load(c)?;
            let mut purged = 0;
            for (key, value) in rows {
                let held: serde_json::Value = serde_json::from_str(&value).unwrap_or_default();
                let Some(expires) = held.get("expires").and_then(|e| e.as_f64()) else {
                    continue; // not a lease
                };
                if expires >= before {
                    continue;
                }
                // Compare-and-delete: a lease renewed since it was read stays.
                purged += diesel::delete(
                    kvs::table
                        .filter(kvs::key.eq(&key))
                        .filter(kvs::value.eq(&value)),
                )
                .execute(c)?;
            }
            Ok(purged)
        })
    }
}
