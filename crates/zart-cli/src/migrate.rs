//! `zart migrate`: opens the database, which applies any pending migrations, and
//! reports the outcome.

use anyhow::Context;

use crate::args::MigrateArgs;
use crate::{database, output};

/// Applies pending migrations to the database at `args.db` and prints what it did.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let existed = database::sqlite_file(&args.db).map(|f| f.exists());
    let store = database::open(&args.db).await?;
    store
        .ping()
        .await
        .map_err(|e| anyhow::anyhow!("the database does not answer after migrating: {e}"))?;
    // Both backends number their migrations alike.
    let versions = zart_sqlite::migration_versions();
    let newest = versions.last().copied().unwrap_or(0);
    let applied: Vec<String> = versions.iter().map(i64::to_string).collect();
    let action = if existed == Some(false) {
        "created"
    } else {
        "opened"
    };
    let text = format!(
        "{action} {} database {}\nschema is up to date: migrations {} applied (schema version {newest})\n",
        store.backend_name(),
        database::redact(&args.db),
        applied.join(", ")
    );
    output::emit(&text).context("writing to stdout")
}
