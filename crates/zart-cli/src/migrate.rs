//! `zart migrate`: opens the database, which applies any pending migrations, and
//! prints the migrations the database records as applied.

use anyhow::Context;
use zart::core::{AppliedMigration, SCHEMA_MIGRATIONS};

use crate::args::MigrateArgs;
use crate::{database, output};

/// Applies pending migrations to the database at `args.db` and prints its record of
/// applied migrations (its own `schema_migrations` table, whichever the backend).
pub(crate) async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let existed = database::sqlite_file(&args.db).map(|f| f.exists());
    let store = database::open(&args.db).await?;
    store
        .ping()
        .await
        .map_err(|e| anyhow::anyhow!("the database does not answer after migrating: {e}"))?;
    let applied = store
        .migration_list()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the applied migrations: {e}"))?;
    let action = if existed == Some(false) {
        "created"
    } else {
        "opened"
    };
    let text = format!(
        "{action} {} database {}\n{}",
        store.backend_name(),
        database::redact(&args.db),
        report(&applied)
    );
    output::emit(&text).context("writing to stdout")
}

/// The summary line, then one line per applied migration: version, name, and when.
fn report(applied: &[AppliedMigration]) -> String {
    let newest = applied.iter().map(|m| m.version).max().unwrap_or(0);
    let versions: Vec<String> = applied.iter().map(|m| m.version.to_string()).collect();
    let mut text = format!(
        "schema is up to date: migrations {} applied (schema version {newest})\n",
        versions.join(", ")
    );
    let width = applied.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for m in applied {
        let known = SCHEMA_MIGRATIONS.iter().any(|k| k.version == m.version);
        let note = if known {
            ""
        } else {
            "  (unknown to this build: a newer Zart applied it)"
        };
        text.push_str(&format!(
            "  {:>4}  {:<width$}  applied {}{note}\n",
            m.version,
            m.name,
            m.applied_at.format("%Y-%m-%d %H:%M:%S UTC"),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(version: i64, name: &str) -> AppliedMigration {
        let at = zart::core::Timestamp::from_timestamp_millis(1_700_000_000_000).unwrap();
        AppliedMigration {
            version,
            name: name.to_owned(),
            applied_at: at,
        }
    }

    #[test]
    fn report_lists_each_recorded_migration_with_its_name_and_time() {
        let text = report(&[applied(1, "init"), applied(2, "inline_attempts")]);
        let expected = concat!(
            "schema is up to date: migrations 1, 2 applied (schema version 2)\n",
            "     1  init             applied 2023-11-14 22:13:20 UTC\n",
            "     2  inline_attempts  applied 2023-11-14 22:13:20 UTC\n",
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn report_marks_a_migration_this_build_does_not_know() {
        let text = report(&[applied(1, "init"), applied(99, "future")]);
        assert!(text.contains("schema version 99"), "{text}");
        assert!(text.contains("future  applied"), "{text}");
        assert!(text.contains("unknown to this build"), "{text}");
    }
}
