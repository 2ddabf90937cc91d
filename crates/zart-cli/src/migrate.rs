//! `zart migrate`: opens the database, which applies any pending migrations, and
//! reports the outcome.

use crate::args::MigrateArgs;
use crate::database;

/// Applies pending migrations to the database at `args.db` and prints what it did.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let file = database::sqlite_file(&args.db);
    let existed = file.as_ref().map(|f| f.exists());
    let store = database::open(&args.db).await?;
    store
        .ping()
        .await
        .map_err(|e| anyhow::anyhow!("the database does not answer after migrating: {e}"))?;
    let versions = zart_sqlite::migration_versions();
    let newest = versions.last().copied().unwrap_or(0);
    let shown = database::redact(&args.db);
    match existed {
        Some(false) => println!("created {} database {shown}", store.backend_name()),
        _ => println!("opened {} database {shown}", store.backend_name()),
    }
    println!(
        "schema is up to date: migrations {} applied (schema version {newest})",
        versions
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
