//! Projection throughput with 1, 2 and 3 projector partitions, each partition on its own
//! `parley serve` instance: a backlog of message events is published while every partition's
//! batches are held back (the benchmark holds each partition's batch lock), then released; the
//! rate is the backlog divided by the time until every partition's checkpoint reaches the tip.
//! Beside it: how fast the server's copy by partition took the backlog in, from its first
//! publish (it cannot be faster than the publishing).

use std::path::Path;
use std::time::{Duration, Instant};

use parley::projections::{checkpoint, schema};
use sqlx::{Connection, PgConnection, PgPool};

use super::append::publish_raw;
use super::env::{Env, Server, parley_binary};
use super::report::Sample;

pub async fn run(repo: &Path, partitions: u32, events: usize) -> anyhow::Result<Sample> {
    let env = Env::start(repo).await?;
    let binary = parley_binary()?;
    let count = partitions.to_string();
    let mut servers = Vec::new();
    for i in 0..partitions {
        let dir = env.dir.path().join(format!("serve-{i}"));
        let dir = dir.to_string_lossy().into_owned();
        let extra = [("PARLEY_PROJECTOR_PARTITIONS", count.as_str()), ("PARLEY_DATA_DIR", dir.as_str())];
        servers.push(env.serve(&binary, &extra).await?);
    }
    let (created, messages) = super::lag::seeded(events);
    publish_raw(&env.log, &created).await?;
    let pool = schema::connect_pool(&env.database_url()).await?;
    caught_up(&pool, env.log.last_seq().await?, Duration::from_secs(60)).await?;
    for server in &servers {
        spread(server, Duration::from_secs(60)).await?;
    }

    let mut blocker = PgConnection::connect(&env.database_url()).await?;
    for partition in 0..partitions {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(checkpoint::lock_key(partition as i32))
            .execute(&mut blocker)
            .await?;
    }
    let publishing = Instant::now();
    let copied = {
        // How soon the server's copy by partition holds the backlog, from its first publish.
        let (log, first_tip) = (env.log.clone(), env.log.last_seq().await? + events as u64);
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(600);
            while log.partition_copy_reached().await? < first_tip {
                anyhow::ensure!(Instant::now() < deadline, "the copy by partition never held the backlog");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, anyhow::Error>(publishing.elapsed().as_secs_f64())
        })
    };
    publish_raw(&env.log, &messages).await?;
    let tip = env.log.last_seq().await?;
    let started = Instant::now();
    blocker.close().await?;
    caught_up(&pool, tip, Duration::from_secs(600)).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let copy_elapsed = copied.await??;
    drop(servers);
    Ok(Sample::from([("rate", events as f64 / elapsed), ("copy_rate", events as f64 / copy_elapsed)]))
}

/// Waits until every partition's checkpoint is at `tip`.
async fn caught_up(pool: &PgPool, tip: u64, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let mut conn = pool.acquire().await?;
        let all = checkpoint::read_all(&mut conn).await?;
        if !all.is_empty() && all.iter().all(|(_, seq)| *seq >= tip) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "the projectors did not reach {tip}: {all:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `server` applies exactly one partition (the partitions have spread).
async fn spread(server: &Server, within: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + within;
    loop {
        let text = http.get(format!("{}/metrics", server.base)).send().await?.text().await?;
        if text.lines().any(|line| line == "parley_projector_partitions_held 1") {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{} never applied exactly one partition", server.base);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
