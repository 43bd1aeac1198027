//! Which scenarios run, in which environment, and how each becomes a row of the table.

use std::path::PathBuf;

use super::report::{Row, per_second, percent};
use super::{Results, Sizes, append, biglog, env, repeat, rest, ws};

/// Notes printed under the table in docs/benchmarks.md.
pub const NOTES: &str = "\
Scenarios not in the table did not run (see `--only`). Every scenario starts its own
nats-server and PostgreSQL with their default durability (NATS's 2-minute sync interval,
PostgreSQL's fsync on); `parley serve` runs as a separate release-built process, and the load
generator shares the same 2 cores with all of them.
";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub async fn run_all(sizes: &Sizes, runs: usize, wanted: &dyn Fn(&str) -> bool) -> anyhow::Result<Results> {
    let mut results = Results::new();
    if wanted("append") {
        eprintln!("append: {} events, {runs} run(s)", sizes.append_events);
        let env = env::Env::start(&repo()).await?;
        results.insert("append", repeat(runs, || append::run(&env.log, sizes.append_events)).await?);
    }
    if wanted("rest") {
        eprintln!("rest: {} clients for {:?}, {runs} run(s)", sizes.rest_clients, sizes.rest_duration);
        let env = env::Env::start(&repo()).await?;
        let server = env.serve(&env::parley_binary()?, &[]).await?;
        let clients = rest::conversations(&server, sizes.rest_clients).await?;
        results.insert("rest", repeat(runs, || rest::run(&server, &clients, sizes.rest_duration)).await?);
    }
    if wanted("ws") {
        eprintln!("ws: {} clients for {:?}, {runs} run(s)", sizes.ws_clients, sizes.ws_duration);
        let env = env::Env::start(&repo()).await?;
        let server = env.serve(&env::parley_binary()?, &[]).await?;
        let clients = rest::conversations(&server, sizes.ws_clients).await?;
        results.insert("ws", repeat(runs, || ws::send(&server, &clients, sizes.ws_duration)).await?);
    }
    if wanted("delivery") {
        eprintln!(
            "delivery: {} users, {}/s for {:?}, {runs} run(s)",
            sizes.delivery_users, sizes.delivery_rate, sizes.delivery_duration
        );
        let env = env::Env::start(&repo()).await?;
        let server = env.serve(&env::parley_binary()?, &[]).await?;
        let pairs = ws::pairs(&server, sizes.delivery_users / 2).await?;
        let mut figures =
            repeat(runs, || ws::delivery(&server, &pairs, sizes.delivery_rate, sizes.delivery_duration))
                .await?;
        let count = sizes.delivery_rate as u64 * sizes.delivery_duration.as_secs();
        let raw = repeat(runs, || ws::nats_latency(env.log.client(), sizes.delivery_rate, count)).await?;
        figures.0.insert("raw_p50_ms", raw.0["p50_ms"]);
        figures.0.insert("raw_p99_ms", raw.0["p99_ms"]);
        results.insert("delivery", figures);
    }
    if wanted("idle") {
        eprintln!("idle: {} sessions, {runs} run(s)", sizes.idle_sessions);
        let mut samples = Vec::new();
        for _ in 0..runs {
            // A fresh server each run: memory is measured from its baseline.
            let env = env::Env::start(&repo()).await?;
            let server = env.serve(&env::parley_binary()?, &[]).await?;
            samples.push(ws::idle(&server, sizes.idle_sessions).await?);
        }
        results.insert("idle", super::report::Figures::from_runs(&samples));
    }
    if wanted("projector") || wanted("history") || wanted("replay") {
        eprintln!("seeding {} messages in {} conversations", sizes.log_messages, sizes.log_conversations);
        let env = env::Env::start(&repo()).await?;
        let log = biglog::seed(&env, sizes.log_conversations, sizes.log_messages).await?;
        // The first rebuild also builds the read models the history scenario reads.
        let projector = repeat(runs, || biglog::projector(&env, &log)).await?;
        if wanted("projector") {
            results.insert("projector", projector);
        }
        if wanted("replay") {
            results.insert("replay", repeat(runs, || biglog::replay(&env, &log)).await?);
        }
        if wanted("history") {
            let server = env.serve(&env::parley_binary()?, &[]).await?;
            results.insert(
                "history",
                repeat(runs, || biglog::history(&server, &log, sizes.history_requests)).await?,
            );
        }
    }
    Ok(results)
}

/// One row per scenario that ran, in a fixed order.
pub fn describe(results: &Results) -> Vec<Row> {
    let raw_append = results.get("append").map(|f| f.get("raw_rate"));
    let mut rows = Vec::new();
    if let Some(f) = results.get("append") {
        let ratio = f.get("rate") / f.get("raw_rate");
        rows.push(Row {
            scenario: "append (EventLog::append, dedup ids)",
            figure: per_second(f.get("rate")),
            target: "within 80% of the raw limit".into(),
            limit: format!("{} async JetStream publish", per_second(f.get("raw_rate"))),
            ratio: percent(ratio),
            met: Some(ratio >= 0.8),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("rest") {
        let (rate, p50, p99) = (f.get("rate"), f.get("p50_ms"), f.get("p99_ms"));
        rows.push(Row {
            scenario: "REST send (64 keep-alive clients)",
            figure: format!("{}, p50 {p50:.1} ms, p99 {p99:.1} ms", per_second(rate)),
            target: "5,000/s, p99 < 25 ms".into(),
            limit: raw_append.map_or("append row".into(), |r| format!("{} (append row)", per_second(r))),
            ratio: raw_append.map_or("n/a".into(), |r| percent(rate / r)),
            met: Some(rate >= 5_000.0 && p99 < 25.0),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("ws") {
        let (rate, p50, p99) = (f.get("rate"), f.get("p50_ms"), f.get("p99_ms"));
        rows.push(Row {
            scenario: "WebSocket send (64 clients, message.send)",
            figure: format!("{}, p50 {p50:.1} ms, p99 {p99:.1} ms", per_second(rate)),
            target: "8,000/s, p99 < 20 ms".into(),
            limit: raw_append.map_or("append row".into(), |r| format!("{} (append row)", per_second(r))),
            ratio: raw_append.map_or("n/a".into(), |r| percent(rate / r)),
            met: Some(rate >= 8_000.0 && p99 < 20.0),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("delivery") {
        let (p50, p99, max, lost) = (f.get("p50_ms"), f.get("p99_ms"), f.get("max_ms"), f.get("lost"));
        rows.push(Row {
            scenario: "delivery (1,000 users, 1,000 msg/s, send to frame)",
            figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.0} ms, lost {lost:.0}"),
            target: "p99 < 25 ms, nothing lost".into(),
            limit: format!(
                "core NATS pub to sub p50 {:.2} ms, p99 {:.2} ms",
                f.get("raw_p50_ms"),
                f.get("raw_p99_ms")
            ),
            ratio: format!("p99 {:.0}x", p99 / f.get("raw_p99_ms")),
            met: Some(p99 < 25.0 && lost == 0.0),
            noise: percent(f.spread("p99_ms")),
        });
    }
    if let Some(f) = results.get("idle") {
        let (rss, per) = (f.get("rss_mb"), f.get("per_session_kb"));
        rows.push(Row {
            scenario: "idle sessions (10,000 authenticated)",
            figure: format!("{rss:.0} MB resident, {per:.1} KB per session ({:.0} open)", f.get("sessions")),
            target: "< 500 MB (< 50 KB per session)".into(),
            limit: "n/a".into(),
            ratio: "n/a".into(),
            met: Some(rss < 500.0 && per < 50.0),
            noise: percent(f.spread("rss_mb")),
        });
    }
    if let Some(f) = results.get("projector") {
        let (rate, raw) = (f.get("rate"), f.get("raw_rate"));
        rows.push(Row {
            scenario: "projector (rebuild)",
            figure: per_second(rate),
            target: "25,000/s and >= 50% of the raw limit".into(),
            limit: format!("{} batched PostgreSQL insert of the same rows", per_second(raw)),
            ratio: percent(rate / raw),
            met: Some(rate >= 25_000.0 && rate / raw >= 0.5),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("replay") {
        let (rate, raw) = (f.get("rate"), f.get("raw_rate"));
        rows.push(Row {
            scenario: "replay (JSON lines, whole log)",
            figure: per_second(rate),
            target: "100,000/s".into(),
            limit: format!("{} raw ordered-consumer read", per_second(raw)),
            ratio: percent(rate / raw),
            met: Some(rate >= 100_000.0),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("history") {
        let (p50, p99) = (f.get("p50_ms"), f.get("p99_ms"));
        rows.push(Row {
            scenario: "history (latest 50, 1,000,000 messages stored)",
            figure: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
            target: "p99 < 5 ms".into(),
            limit: "n/a".into(),
            ratio: "n/a".into(),
            met: Some(p99 < 5.0),
            noise: percent(f.spread("p99_ms")),
        });
    }
    rows
}
