//! Creating and reading executions: insert (one statement for a batch of one or
//! many; see `group/` for how batches form), get, list, stats.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use std::collections::HashMap;

use sqlx::{Postgres, QueryBuilder, Row};
use zart_core::{
    ExecutionQuery, ExecutionRecord, ExecutionStatus, InsertOutcome, NewExecution,
    ParentClosePolicy, SortBy, SortOrder, Stats,
};

use crate::error::{corrupt, PgError};
use crate::pool::{work_if, Db, Written};
use crate::rows::{
    self, column, json_text, ms, opt_ms, request_numbers, request_of, EXECUTION_COLUMNS,
};

/// Inserts, in id order (so overlapping batches wait rather than deadlock), each row
/// of a CTE named `source` defined before whose id is new, with its data row and run
/// 1; nothing for an id that exists. `source` has the columns `id`, `task_name`,
/// `parent_id`, `now`, `deadline_at`, `run_at`, `payload` (JSON text), `queue`,
/// `priority`, `trace_context`, `dedup_id` and `concurrency_key`, its ids distinct; `{PARENT_CLOSE}`
/// is replaced by a policy's SQL literal (see [`parent_close_sql`]) and `{CHANNEL}`
/// by the parameter holding the NOTIFY channel. One `Work` hint covers every
/// execution created. A keyed row's fair-queuing sequence is one past its key's
/// last unfinished one (and past the batch's earlier rows of its key), never behind
/// the queue's clock. A row whose deduplication id an unfinished execution of its
/// queue holds (the unique index `executions_dedup`, here or in a concurrent
/// transaction, which `ON CONFLICT` waits for) is skipped like an existing id.
pub(crate) const INSERT_CTES: &str = "
    new_execution AS (
        INSERT INTO {s}.executions (id, task_name, status, run_index, parent_id,
            scheduled_at, updated_at, deadline_at, version, due_at, fence, parent_close,
            queue, priority, dedup_id, concurrency_key, key_seq)
        SELECT id, task_name, 'scheduled', 1, parent_id, now, now, deadline_at, 1,
            run_at, 0, {PARENT_CLOSE}, queue, priority, dedup_id, concurrency_key,
            CASE WHEN concurrency_key IS NULL THEN 0 ELSE greatest(
                coalesce((SELECT q.key_clock FROM {s}.queues q WHERE q.name = source.queue), 0),
                coalesce((SELECT max(x.key_seq) + 1 FROM {s}.executions x
                    WHERE x.queue = source.queue AND x.concurrency_key = source.concurrency_key
                      AND x.status IN ('scheduled', 'running')), 0))
                + row_number() OVER (PARTITION BY queue, concurrency_key ORDER BY id) - 1 END
        FROM source ORDER BY id
        ON CONFLICT DO NOTHING
        RETURNING *
    ), new_data AS (
        INSERT INTO {s}.execution_data (execution_id, payload, trace_context)
        SELECT n.id, i.payload::json, i.trace_context
        FROM new_execution n JOIN source i ON i.id = n.id
    ), new_run AS (
        INSERT INTO {s}.runs (execution_id, run_index, payload, status, trigger)
        SELECT n.id, 1, i.payload::json, 'scheduled', 'initial'
        FROM new_execution n JOIN source i ON i.id = n.id
    ), new_notify AS (
        SELECT pg_notify({CHANNEL}, 'w') WHERE EXISTS (SELECT 1 FROM new_execution)
    )";

/// The columns of [`INSERT_CTES`]'s `source` for one execution, from `#1..#7` and
/// `#9..#13` bound by [`bind_new`] (`#8` is the channel).
pub(crate) const NEW_COLUMNS: &str = "#1::text AS id, #2::text AS task_name,
    #3::text AS parent_id, #4::bigint AS now, #5::bigint AS deadline_at,
    #6::bigint AS run_at, #7::text AS payload, #9::text AS queue, #10::int AS priority,
    #11::text AS trace_context, #12::text AS dedup_id, #13::text AS concurrency_key";

/// `policy` as a SQL literal for `{PARENT_CLOSE}` of [`INSERT_CTES`] (its text is one
/// of two constants, never user input).
pub(crate) fn parent_close_sql(policy: ParentClosePolicy) -> String {
    format!("'{}'", policy.as_str())
}

/// Binds `#1..#7` of [`NEW_COLUMNS`], `#8`, the channel, and `#9..#13` (queue,
/// priority, trace context, deduplication id, concurrency key), as the query's next
/// parameters.
pub(crate) fn bind_new<'q>(
    query: Query<'q, Postgres, PgArguments>,
    new: &'q NewExecution,
    channel: &'q str,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(new.id.as_str())
        .bind(new.task_name.as_str())
        .bind(new.parent_id.as_deref())
        .bind(ms(new.now))
        .bind(opt_ms(new.deadline_at))
        .bind(ms(new.run_at))
        .bind(json_text(&new.payload))
        .bind(channel)
        .bind(new.queue.as_deref())
        .bind(new.priority)
        .bind(new.trace_context.as_deref())
        .bind(new.deduplication_id.as_deref())
        .bind(new.concurrency_key.as_deref())
}

/// The execution insert, for a batch of new executions (ids distinct): returns the
/// created rows.
const INSERT: &str = "
    WITH source AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[],
            $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $10::text[], $11::int[],
            $12::text[], $13::text[], $14::text[])
        AS i(req, id, task_name, parent_id, now, deadline_at, run_at, payload, queue, priority,
            trace_context, dedup_id, concurrency_key)
    ), {INSERT_CTES}
    SELECT i.req, e.id, e.task_name, e.status, e.run_index, e.parent_id,
        e.scheduled_at, e.started_at, e.updated_at, e.completed_at, e.deadline_at,
        e.version, e.lease_owner, e.leased_at, e.lease_expires_at, e.wait_kind,
        e.wait_ref, e.wait_until, e.wait_attempt, i.payload::json AS payload,
        NULL::json AS result, NULL::json AS error, e.queue, e.priority, e.due_at,
        (SELECT q.rate_tokens < 1 FROM {s}.queues q WHERE q.name = e.queue) AS rate_limited,
        (SELECT q.key_concurrency <= (SELECT count(*) FROM {s}.executions k
            WHERE k.lease_owner IS NOT NULL AND k.concurrency_key IS NOT NULL
              AND k.queue = e.queue AND k.concurrency_key = e.concurrency_key)
         FROM {s}.queues q WHERE q.name = e.queue AND e.concurrency_key IS NOT NULL)
            AS key_limited,
        (SELECT count(*) FROM new_notify) AS notified
    FROM new_execution e JOIN source i ON i.id = e.id";

/// The text of [`INSERT`].
fn insert_sql() -> String {
    let ctes = INSERT_CTES
        .replace(
            "{PARENT_CLOSE}",
            &parent_close_sql(ParentClosePolicy::Cancel),
        )
        .replace("{CHANNEL}", "$9");
    INSERT.replace("{INSERT_CTES}", &ctes)
}

/// Writes `news` (distinct ids) in one statement; returns each one's outcome, in
/// order. Ids that existed, and the executions holding a refused deduplication id,
/// are read after the commit (a concurrent insert of one has committed by then:
/// `ON CONFLICT` waited for it).
pub(crate) async fn insert(
    db: &Db,
    news: &[&NewExecution],
) -> Result<Vec<Written<InsertOutcome>>, PgError> {
    let mut inserts = Inserts::new(news);
    while let Some(batch) = inserts.next_round()? {
        let created = insert_rows(db, db.writes(), &batch).await?;
        let missing = missing(&created, batch.len())?;
        let found = if missing.is_empty() {
            HashMap::new()
        } else {
            found(db, &mut *db.pool.acquire().await?, &batch, &missing).await?
        };
        inserts.settle(created, found)?;
    }
    Ok(inserts.finish())
}

/// [`insert`] of one execution in the application's own transaction
/// (transactional enqueue, see `transaction.rs`): an existing execution is read in
/// the same transaction.
pub(crate) async fn insert_in(
    db: &Db,
    conn: &mut sqlx::PgConnection,
    new: &NewExecution,
) -> Result<Written<InsertOutcome>, PgError> {
    let mut outcomes = insert_on(db, conn, &[new]).await?;
    outcomes
        .pop()
        .ok_or_else(|| corrupt(format!("execution {} vanished", new.id)))
}

/// [`insert`] of several executions on `conn`, for example inside a transaction that
/// writes more (a schedule's firing): existing executions are read on it too.
pub(crate) async fn insert_on(
    db: &Db,
    conn: &mut sqlx::PgConnection,
    news: &[&NewExecution],
) -> Result<Vec<Written<InsertOutcome>>, PgError> {
    let mut inserts = Inserts::new(news);
    while let Some(batch) = inserts.next_round()? {
        let created = insert_rows(db, &mut *conn, &batch).await?;
        let missing = missing(&created, batch.len())?;
        let found = found(db, conn, &batch, &missing).await?;
        inserts.settle(created, found)?;
    }
    Ok(inserts.finish())
}

/// Rounds of [`INSERT`] before a start whose deduplication id keeps being refused
/// and released (its holder finishing before it can be read) gives up.
const INSERT_ROUNDS: usize = 3;

/// The outcomes of a batch of inserts, settled over rounds: a request refused for a
/// deduplication id whose holder finished before it was read is inserted again in
/// the next round (the id is free by then, unless another start took it).
struct Inserts<'a> {
    news: &'a [&'a NewExecution],
    outcomes: Vec<Option<Written<InsertOutcome>>>,
    /// The requests (indexes into `news`) of the round under way.
    pending: Vec<usize>,
    rounds: usize,
}

impl<'a> Inserts<'a> {
    fn new(news: &'a [&'a NewExecution]) -> Self {
        Self {
            news,
            outcomes: news.iter().map(|_| None).collect(),
            pending: (0..news.len()).collect(),
            rounds: 0,
        }
    }

    /// The requests of the next round, or `None` when every one is settled.
    fn next_round(&mut self) -> Result<Option<Vec<&'a NewExecution>>, PgError> {
        self.pending.retain(|&i| self.outcomes[i].is_none());
        if self.pending.is_empty() {
            return Ok(None);
        }
        if self.rounds == INSERT_ROUNDS {
            let id = &self.news[self.pending[0]].id;
            return Err(corrupt(format!(
                "execution {id}: its deduplication id kept being taken and released"
            )));
        }
        self.rounds += 1;
        Ok(Some(self.pending.iter().map(|&i| self.news[i]).collect()))
    }

    /// Records the round's outcomes: `created` rows from [`insert_rows`] and what
    /// [`found`] read, both by position in the round's batch.
    fn settle(
        &mut self,
        created: Vec<sqlx::postgres::PgRow>,
        mut found: HashMap<usize, InsertOutcome>,
    ) -> Result<(), PgError> {
        let mut made: HashMap<usize, ExecutionRecord> = HashMap::new();
        for row in &created {
            made.insert(request_of(row)?, rows::execution(row)?);
        }
        for (at, &i) in self.pending.iter().enumerate() {
            let outcome = match made.remove(&at) {
                Some(record) => (InsertOutcome::Created(record), work_if(true)),
                None => match found.remove(&at) {
                    Some(outcome) => (outcome, Vec::new()),
                    // Refused for its deduplication id, whose holder has finished
                    // since: the next round inserts it again.
                    None if self.news[i].deduplication_id.is_some() => continue,
                    None => return Err(corrupt(format!("execution {} vanished", self.news[i].id))),
                },
            };
            self.outcomes[i] = Some(outcome);
        }
        Ok(())
    }

    fn finish(self) -> Vec<Written<InsertOutcome>> {
        self.outcomes.into_iter().flatten().collect()
    }
}

/// Runs [`INSERT`] for `news` on `conn`: the rows created.
async fn insert_rows(
    db: &Db,
    conn: impl sqlx::PgExecutor<'_>,
    news: &[&NewExecution],
) -> Result<Vec<sqlx::postgres::PgRow>, PgError> {
    Ok(sqlx::query(&db.sql(&insert_sql()))
        .bind(request_numbers(news.len())?)
        .bind(column(news, |n| n.id.as_str()))
        .bind(column(news, |n| n.task_name.as_str()))
        .bind(column(news, |n| n.parent_id.as_deref()))
        .bind(column(news, |n| ms(n.now)))
        .bind(column(news, |n| opt_ms(n.deadline_at)))
        .bind(column(news, |n| ms(n.run_at)))
        .bind(column(news, |n| json_text(&n.payload)))
        .bind(db.channel())
        .bind(column(news, |n| n.queue.as_deref()))
        .bind(column(news, |n| n.priority))
        .bind(column(news, |n| n.trace_context.as_deref()))
        .bind(column(news, |n| n.deduplication_id.as_deref()))
        .bind(column(news, |n| n.concurrency_key.as_deref()))
        .fetch_all(conn)
        .await?)
}

/// The positions in a batch of `len` requests that [`insert_rows`] did not create.
fn missing(created_rows: &[sqlx::postgres::PgRow], len: usize) -> Result<Vec<usize>, PgError> {
    let created = created_rows
        .iter()
        .map(request_of)
        .collect::<Result<std::collections::HashSet<usize>, PgError>>()?;
    Ok((0..len).filter(|i| !created.contains(i)).collect())
}

/// The outcome of each `missing` request of `news`, by position: the execution that
/// already has its id, else the unfinished execution of its queue holding its
/// deduplication id. A request with neither is left out (a deduplication holder
/// that finished before this read).
async fn found(
    db: &Db,
    conn: &mut sqlx::PgConnection,
    news: &[&NewExecution],
    missing: &[usize],
) -> Result<HashMap<usize, InsertOutcome>, PgError> {
    if missing.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = missing.iter().map(|&i| news[i].id.as_str()).collect();
    let sql = db.sql(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM {{s}}.executions e
         JOIN {{s}}.execution_data d ON d.execution_id = e.id WHERE e.id = ANY($1)"
    ));
    let mut by_id: HashMap<String, ExecutionRecord> = HashMap::new();
    for row in sqlx::query(&sql).bind(&ids).fetch_all(&mut *conn).await? {
        let record = rows::execution(&row)?;
        by_id.insert(record.id.clone(), record);
    }
    let mut found = HashMap::new();
    let mut refused = Vec::new();
    for &i in missing {
        match by_id.remove(news[i].id.as_str()) {
            Some(record) => {
                found.insert(i, InsertOutcome::Existing(record));
            }
            None if news[i].deduplication_id.is_some() => refused.push(i),
            None => {}
        }
    }
    if refused.is_empty() {
        return Ok(found);
    }
    // The same predicate as the unique index `executions_dedup`, so it is used.
    let sql = db.sql(&format!(
        "SELECT coalesce(e.queue, '') AS dedup_queue, e.dedup_id, {EXECUTION_COLUMNS}
         FROM {{s}}.executions e JOIN {{s}}.execution_data d ON d.execution_id = e.id
         WHERE (coalesce(e.queue, ''), e.dedup_id) IN
             (SELECT * FROM unnest($1::text[], $2::text[]))
           AND e.dedup_id IS NOT NULL AND e.status IN ('scheduled', 'running')"
    ));
    let queues: Vec<&str> = refused
        .iter()
        .map(|&i| news[i].queue.as_deref().unwrap_or(""))
        .collect();
    let dedups: Vec<&str> = refused
        .iter()
        .map(|&i| news[i].deduplication_id.as_deref().unwrap_or(""))
        .collect();
    let mut holders: HashMap<(String, String), ExecutionRecord> = HashMap::new();
    let rows = sqlx::query(&sql)
        .bind(&queues)
        .bind(&dedups)
        .fetch_all(&mut *conn)
        .await?;
    for row in rows {
        let key = (row.try_get("dedup_queue")?, row.try_get("dedup_id")?);
        holders.insert(key, rows::execution(&row)?);
    }
    for (at, &i) in refused.iter().enumerate() {
        let key = (queues[at].to_owned(), dedups[at].to_owned());
        if let Some(holder) = holders.get(&key) {
            found.insert(i, InsertOutcome::Deduplicated(holder.clone()));
        }
    }
    Ok(found)
}

pub(crate) async fn get(db: &Db, id: &str) -> Result<Option<ExecutionRecord>, PgError> {
    let sql = db.sql(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM {{s}}.executions e
         JOIN {{s}}.execution_data d ON d.execution_id = e.id WHERE e.id = $1"
    ));
    let row = sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(rows::execution).transpose()
}

pub(crate) async fn list(db: &Db, q: &ExecutionQuery) -> Result<Vec<ExecutionRecord>, PgError> {
    let head = db.sql(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM {{s}}.executions e
         JOIN {{s}}.execution_data d ON d.execution_id = e.id WHERE TRUE"
    ));
    let mut b = QueryBuilder::<Postgres>::new(head);
    if let Some(status) = q.status {
        b.push(" AND e.status = ").push_bind(status.as_str());
    }
    if let Some(task) = &q.task_name {
        b.push(" AND e.task_name = ").push_bind(task.as_str());
    }
    if let Some(from) = q.from {
        b.push(" AND e.scheduled_at >= ").push_bind(ms(from));
    }
    if let Some(to) = q.to {
        b.push(" AND e.scheduled_at <= ").push_bind(ms(to));
    }
    if let Some(search) = &q.search {
        // strpos matches literally: no LIKE wildcards to escape.
        b.push(" AND strpos(e.id, ")
            .push_bind(search.as_str())
            .push(") > 0");
    }
    let column = match q.sort_by {
        SortBy::ScheduledAt => "e.scheduled_at",
        SortBy::Status => "e.status",
        SortBy::TaskName => "e.task_name",
    };
    let order = match q.sort_order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    b.push(format!(" ORDER BY {column} {order}, e.id {order} LIMIT "))
        .push_bind(i64::from(q.limit))
        .push(" OFFSET ")
        .push_bind(i64::from(q.offset));
    let found = b.build().fetch_all(&db.pool).await?;
    found.iter().map(rows::execution).collect()
}

pub(crate) async fn stats(db: &Db) -> Result<Stats, PgError> {
    let sql = db.sql("SELECT status, count(*) AS n FROM {s}.executions GROUP BY status");
    let mut stats = Stats::default();
    for row in sqlx::query(&sql).fetch_all(&db.pool).await? {
        let status: ExecutionStatus = rows::parse(row.try_get::<&str, _>("status")?)?;
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default();
        match status {
            ExecutionStatus::Scheduled => stats.scheduled = n,
            ExecutionStatus::Running => stats.running = n,
            ExecutionStatus::Completed => stats.completed = n,
            ExecutionStatus::Failed => stats.failed = n,
            ExecutionStatus::Cancelled => stats.cancelled = n,
        }
    }
    Ok(stats)
}
