//! The pool, the schema every statement names, and the guard clause shared by all
//! guarded writes.

use sqlx::postgres::{PgArguments, PgPool};
use sqlx::query::Query;
use sqlx::Postgres;
use zart_core::LeaseGuard;

use zart_core::Signal;

use crate::rows::ms;

/// The WHERE clause of every guarded write: `$1..$4` are bound by [`bind_guard`].
pub(crate) const GUARD: &str =
    "id = $1 AND fence = $2 AND lease_owner = $3 AND lease_expires_at > $4";

/// The `{LOCKED}` CTE body of the batched writes: the execution rows named by the
/// `$2` array, locked one index probe each, in id order (byte order, like every
/// multi-row locker here, so overlapping batches wait rather than deadlock), at
/// their latest committed version. A probe per id keeps the plan independent of the
/// table's statistics: `id = ANY($2)` was planned, and cached, as a sequential scan
/// while the table was small, then scanned the whole table on every batch.
pub(crate) const LOCK_BATCH: &str = "
        SELECT e.id, e.fence, e.lease_owner, e.lease_expires_at
        FROM (SELECT DISTINCT k.id COLLATE \"C\" AS id FROM unnest($2::text[]) AS k(id)
            ORDER BY 1) k
        CROSS JOIN LATERAL (
            SELECT x.id, x.fence, x.lease_owner, x.lease_expires_at
            FROM {s}.executions x WHERE x.id = k.id
            FOR NO KEY UPDATE
        ) e";

/// What every module needs: the pool and the schema-qualified SQL.
pub(crate) struct Db {
    pub(crate) pool: PgPool,
    schema: String,
    quoted: String,
    channel: String,
}

impl Db {
    /// `schema` has been validated (lowercase, digits, `_`), so quoting it is safe.
    pub(crate) fn new(pool: PgPool, schema: String) -> Self {
        Self {
            pool,
            quoted: format!("\"{schema}\""),
            channel: channel_for(&schema),
            schema,
        }
    }

    /// `template` with every `{s}` replaced by the quoted schema. Statements name
    /// their schema explicitly rather than relying on `search_path`, which a
    /// transaction-mode pooler does not keep per client.
    pub(crate) fn sql(&self, template: &str) -> String {
        template.replace("{s}", &self.quoted)
    }

    /// The schema name.
    pub(crate) fn schema(&self) -> &str {
        &self.schema
    }

    /// The NOTIFY channel of this schema.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }
}

/// The NOTIFY channel for a schema: one per schema, so applications sharing a
/// database do not wake each other.
pub(crate) fn channel_for(schema: &str) -> String {
    format!("zart_{schema}")
}

/// The advisory-lock key serializing migrations of one schema (FNV-1a, stable
/// across builds and machines).
pub(crate) fn migration_lock_key(schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "zart.migrate.".bytes().chain(schema.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// `template` with every `#k` replaced by `$(offset + k)`, so a SQL fragment can be
/// placed after other parameters.
pub(crate) fn renumber(template: &str, offset: usize) -> String {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '#' || !chars.peek().is_some_and(char::is_ascii_digit) {
            out.push(c);
            continue;
        }
        let mut k = 0usize;
        while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
            k = k * 10 + d as usize;
            chars.next();
        }
        out.push('$');
        out.push_str(&(offset + k).to_string());
    }
    out
}

/// A write's result and the hints it sent with `pg_notify`, which the store repeats
/// in-process when it has no LISTEN connection.
pub(crate) type Written<T> = (T, Vec<Signal>);

/// `[Signal::Work]` if `woke`, else nothing.
pub(crate) fn work_if(woke: bool) -> Vec<Signal> {
    if woke {
        vec![Signal::Work]
    } else {
        Vec::new()
    }
}

/// Binds `$1..$4` of [`GUARD`].
pub(crate) fn bind_guard<'q>(
    query: Query<'q, Postgres, PgArguments>,
    guard: &'q LeaseGuard,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(guard.execution_id.as_str())
        .bind(guard.fence)
        .bind(guard.worker_id.as_str())
        .bind(ms(guard.now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumber_shifts_fragment_parameters() {
        assert_eq!(renumber("a = #1 AND b = #12", 4), "a = $5 AND b = $16");
        assert_eq!(renumber("x # y", 4), "x # y");
    }

    #[test]
    fn lock_keys_differ_per_schema_and_are_stable() {
        assert_ne!(migration_lock_key("a"), migration_lock_key("b"));
        assert_eq!(migration_lock_key("zart"), migration_lock_key("zart"));
    }
}
