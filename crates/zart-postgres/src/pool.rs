//! The pool and the schema every statement names: [`Db`], handed to every module,
//! and the helpers that build its SQL.

use sqlx::postgres::PgPool;
use zart_core::Signal;

/// What every module needs: the pool and the schema-qualified SQL.
pub(crate) struct Db {
    pub(crate) pool: PgPool,
    /// The batched writes' own connections, which plan each statement once (see
    /// [`Db::writes`]); `None` when they share [`Db::pool`].
    pub(crate) writes: Option<PgPool>,
    schema: String,
    quoted: String,
    channel: String,
}

impl Db {
    /// `schema` has been validated (lowercase, digits, `_`), so quoting it is safe.
    pub(crate) fn new(pool: PgPool, writes: Option<PgPool>, schema: String) -> Self {
        Self {
            pool,
            writes,
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

    /// Where the batched writes (step saves, inserts, finishes, offers) run: their
    /// own connections when the store opened some, set to reuse one generic plan per
    /// statement. Their array statements cost more to plan than to run for a batch
    /// of one, and PostgreSQL's own choice keeps re-planning them (the generic plan
    /// is costed for 100 rows per array, so a one-row custom plan always looks
    /// cheaper); planned once, a step save of one costs about what a single-row
    /// statement did. Other statements keep PostgreSQL's per-call choice.
    pub(crate) fn writes(&self) -> &PgPool {
        self.writes.as_ref().unwrap_or(&self.pool)
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
