//! A fresh database per run: a new SQLite file, or a new PostgreSQL schema that is
//! dropped at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::Connection;
use zart_core::Store;
use zart_postgres::{PgOptions, PgStore};
use zart_sqlite::{SqliteOptions, SqliteStore};

use crate::args::{Args, Backend, DEFAULT_POSTGRES_URL};
use crate::error::{BenchError, BenchResult};
use crate::profile::TimedStore;

/// The database of one run and the engine's store on it.
pub struct BenchDb {
    /// The store the engine runs on.
    pub store: Arc<dyn Store>,
    /// Where the database lives.
    pub target: Target,
    /// The timing wrapper around the store, with `--profile`.
    pub profile: Option<Arc<TimedStore>>,
}

impl std::fmt::Debug for BenchDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchDb")
            .field("backend", &self.store.backend_name())
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Where a run's database lives.
#[derive(Debug)]
pub enum Target {
    /// A SQLite file.
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The temporary directory holding it, removed on drop (`None` for `--db`).
        _dir: Option<tempfile::TempDir>,
        /// The store, for its writer's batching counters.
        sqlite: Arc<SqliteStore>,
    },
    /// A schema of a PostgreSQL database.
    Postgres {
        /// The connection URL.
        url: String,
        /// The run's schema, dropped by [`BenchDb::close`].
        schema: String,
        /// The pool size of the store (and of the baseline).
        pool_size: u32,
        /// The store, for its group commit counters.
        pg: Arc<PgStore>,
    },
}

impl BenchDb {
    /// Creates the run's database and opens the store on it.
    pub async fn open(args: &Args) -> BenchResult<BenchDb> {
        let mut db = match args.backend {
            Backend::Sqlite => Self::open_sqlite(args.db.as_deref())?,
            Backend::Postgres => {
                let url = args.db.as_deref().unwrap_or(DEFAULT_POSTGRES_URL);
                Self::open_postgres(url, args.pool_size).await?
            }
        };
        if args.profile {
            let timed = Arc::new(TimedStore::new(Arc::clone(&db.store)));
            db.store = timed.clone();
            db.profile = Some(timed);
        }
        Ok(db)
    }

    fn open_sqlite(url: Option<&str>) -> BenchResult<BenchDb> {
        let (path, dir) = match url {
            Some(url) => (sqlite_path(url)?, None),
            None => {
                let dir = tempfile::Builder::new().prefix("zart-bench-").tempdir()?;
                (dir.path().join("bench.db"), Some(dir))
            }
        };
        if path.exists() {
            return Err(BenchError::Usage(format!(
                "{} exists; the benchmark needs a fresh database (remove it or pick another path)",
                path.display()
            )));
        }
        let url = format!("sqlite://{}", path.display());
        let sqlite = Arc::new(SqliteStore::open_with(&url, SqliteOptions::default())?);
        Ok(BenchDb {
            store: sqlite.clone(),
            target: Target::Sqlite {
                path,
                _dir: dir,
                sqlite,
            },
            profile: None,
        })
    }

    async fn open_postgres(url: &str, pool_size: u32) -> BenchResult<BenchDb> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(BenchError::Usage(format!(
                "--backend postgres needs a postgres:// URL, got {url:?}"
            )));
        }
        if url.contains("schema=") {
            return Err(BenchError::Usage(
                "leave the schema out of the URL: every run creates (and drops) its own".into(),
            ));
        }
        let schema = format!("bench_{}_{:08x}", std::process::id(), rand::random::<u32>());
        let options = PgOptions::default()
            .schema(schema.clone())
            .max_connections(pool_size);
        let pg = Arc::new(PgStore::connect_with(url, options).await?);
        Ok(BenchDb {
            store: pg.clone(),
            target: Target::Postgres {
                url: url.to_owned(),
                schema,
                pool_size,
                pg,
            },
            profile: None,
        })
    }

    /// The backend's name.
    pub fn backend(&self) -> Backend {
        match self.target {
            Target::Sqlite { .. } => Backend::Sqlite,
            Target::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Where the database is, for progress messages.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Sqlite { path, .. } => format!("SQLite file {}", path.display()),
            Target::Postgres { schema, .. } => format!("PostgreSQL schema {schema}"),
        }
    }

    /// With `--profile`: what the store batched (the SQLite writer's transactions and
    /// write ops; PostgreSQL's group-committed step saves).
    pub fn writer_summary(&self) -> Option<String> {
        match &self.target {
            Target::Sqlite { sqlite, .. } => {
                let stats = sqlite.stats();
                Some(format!(
                    "SQLite writer: {} write ops in {} transactions ({:.1} ops per commit), \
                     {} WAL fsyncs behind the writer\n",
                    stats.ops,
                    stats.batches,
                    stats.ops as f64 / stats.batches.max(1) as f64,
                    stats.syncs
                ))
            }
            Target::Postgres { pg, .. } => {
                let stats = pg.group_commit_stats()?;
                let line = |what: &str, ops: u64, commits: u64| {
                    format!(
                        "PostgreSQL group commit: {ops} {what} in {commits} commits ({:.1} per commit)\n",
                        ops as f64 / commits.max(1) as f64
                    )
                };
                Some(
                    line("step saves", stats.saves, stats.batches)
                        + &line("inserts", stats.inserts, stats.insert_batches)
                        + &line("finishes", stats.finishes, stats.finish_batches)
                        + &line("event offers", stats.offers, stats.offer_batches),
                )
            }
        }
    }

    /// The store's batched writes so far and the commits that carried them: the SQLite
    /// writer's ops and transactions, or PostgreSQL's group-committed execution
    /// inserts and their statements.
    pub fn commit_counters(&self) -> Option<(u64, u64)> {
        match &self.target {
            Target::Sqlite { sqlite, .. } => {
                let stats = sqlite.stats();
                Some((stats.ops, stats.batches))
            }
            Target::Postgres { pg, .. } => {
                let stats = pg.group_commit_stats()?;
                Some((stats.inserts, stats.insert_batches))
            }
        }
    }

    /// Drops the run's PostgreSQL schema (a SQLite temporary file is removed when
    /// the directory is dropped). Call it after the engine has stopped.
    pub async fn close(self) -> BenchResult<()> {
        let BenchDb {
            store,
            target,
            profile,
        } = self;
        drop((store, profile));
        if let Target::Postgres {
            url, schema, pg, ..
        } = target
        {
            drop(pg);
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

/// The file of a `sqlite://` URL; in-memory databases are refused because the
/// benchmark measures durable commits.
fn sqlite_path(url: &str) -> BenchResult<PathBuf> {
    let rest = url.strip_prefix("sqlite:").ok_or_else(|| {
        BenchError::Usage(format!(
            "--backend sqlite needs a sqlite:// URL, got {url:?}"
        ))
    })?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.strip_suffix("?mode=rwc").unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") || path.contains('?') {
        return Err(BenchError::Usage(format!(
            "{url:?} is not a SQLite file URL: the benchmark measures durable commits, so \
             it needs sqlite://PATH"
        )));
    }
    Ok(Path::new(path).to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_files_and_memory_is_refused() {
        assert_eq!(
            sqlite_path("sqlite://a/b.db").unwrap(),
            PathBuf::from("a/b.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db").unwrap(),
            PathBuf::from("/tmp/x.db")
        );
        assert_eq!(
            sqlite_path("sqlite:x.db?mode=rwc").unwrap(),
            PathBuf::from("x.db")
        );
        for bad in [
            "sqlite::memory:",
            "sqlite://",
            "postgres://x",
            "sqlite://x.db?cache=shared",
        ] {
            assert!(
                matches!(sqlite_path(bad), Err(BenchError::Usage(_))),
                "{bad}"
            );
        }
    }
}
