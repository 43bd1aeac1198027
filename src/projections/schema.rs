//! Where the read models live. They sit in their own PostgreSQL schema (`parley`), reached
//! through the connection's `search_path`, so that a rebuild can create the same tables in a
//! fresh schema and swap it in. The migration history stays in `public`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};

/// The schema the service reads and writes.
pub const SCHEMA: &str = "parley";
/// The schema a rebuild fills before it is swapped in.
pub const REBUILD_SCHEMA: &str = "parley_rebuild";

pub fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./projections");
    migrator.dangerous_set_table_name("public._sqlx_migrations");
    migrator
}

/// Connection options whose `search_path` starts with `schema`.
pub fn connect_options(url: &str, schema: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name("parley")
        .options([("search_path", format!("{schema},public"))]))
}

/// The service's pool.
pub async fn connect_pool(url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(32)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(connect_options(url, SCHEMA)?)
        .await
}

/// Creates the schema if needed and applies every migration not applied yet.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    pool.execute("CREATE SCHEMA IF NOT EXISTS parley").await?;
    migrator().run(pool).await
}

/// A connection to a fresh, empty copy of the read-model tables in `schema` (dropped and
/// created again), for a rebuild.
pub async fn fresh_schema(url: &str, schema: &str) -> Result<PgConnection, sqlx::Error> {
    // Building an index over a large log takes seconds by design: not a slow statement to warn of.
    let options = connect_options(url, schema)?.disable_statement_logging();
    let mut conn = PgConnection::connect_with(&options).await?;
    let quoted = quote_identifier(schema);
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {quoted} CASCADE; CREATE SCHEMA {quoted}"
    )))
    .await?;
    for migration in migrator().iter() {
        conn.execute(migration.sql.clone()).await?;
    }
    Ok(conn)
}

/// Drops the GIN (full-text) indexes of the tables in `schema` and returns their definitions
/// for [`create_indexes`]: a rebuild fills its tables first and builds them once at the end,
/// which is far cheaper than keeping them up to date row by row.
pub async fn drop_gin_indexes(conn: &mut PgConnection, schema: &str) -> Result<Vec<String>, sqlx::Error> {
    let indexes = sqlx::query!(
        r#"SELECT indexname AS "name!", indexdef AS "definition!" FROM pg_indexes
           WHERE schemaname = $1 AND indexdef LIKE '% USING gin %' ORDER BY indexname"#,
        schema,
    )
    .fetch_all(&mut *conn)
    .await?;
    for index in &indexes {
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP INDEX {}.{}",
            quote_identifier(schema),
            quote_identifier(&index.name)
        )))
        .await?;
    }
    Ok(indexes.into_iter().map(|index| index.definition).collect())
}

/// Creates indexes from their definitions (as [`drop_gin_indexes`] returned them).
pub async fn create_indexes(conn: &mut PgConnection, definitions: &[String]) -> Result<(), sqlx::Error> {
    // A bulk build sorts in memory what fits: more room than the default 64 MB is the
    // difference between one pass and many on a large log.
    conn.execute("SET maintenance_work_mem = '512MB'").await?;
    for definition in definitions {
        conn.execute(sqlx::AssertSqlSafe(definition.clone())).await?;
    }
    conn.execute("RESET maintenance_work_mem").await?;
    Ok(())
}

pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
