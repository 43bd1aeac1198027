//! Which scenarios run, in which environment, and how each becomes a row of the table.

use std::path::PathBuf;

use super::{Results, Sizes, append, ats, biglog, env, flood, lag, partitions, repeat, rest, ws};

/// Notes printed under the table in docs/benchmarks.md.
pub const NOTES: &str = "\
Scenarios not in the table did not run (see `--only`). Every scenario starts its own
nats-server and PostgreSQL with their default durability (NATS's 2-minute sync interval,
PostgreSQL's fsync on); `parley serve` runs as a separate release-built process, and the load
generator shares the same 2 cores with all of them. Profiles of the slowest rows, and what was
fixed after them: [profiling.md](profiling.md).

The machine is shared and its noise shows most in the tails: a p99 can differ by several
times between the three runs of one scenario (the noise column), so a p99 row within a few
milliseconds of its target can read \"yes\" in one run of `scripts/bench` and \"no\" in the
next. The projector row rebuilds a log of 200,000 messages three times; the history row's read
models come from one rebuild of the 1,000,000-message log, whose rate the row shows.
";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Progress on stderr, each line with the seconds since the benchmark began.
macro_rules! say {
    ($started:expr, $($arg:tt)*) => {
        eprintln!("[{:>4}s] {}", $started.elapsed().as_secs(), format!($($arg)*))
    };
}

pub async fn run_all(sizes: &Sizes, runs: usize, wanted: &dyn Fn(&str) -> bool) -> anyhow::Result<Results> {
    let started = std::time::Instant::now();
    let mut results = Results::new();
    if wanted("append") {
        say!(started, "append: {} events, {runs} run(s)", sizes.append_events);
        let env = env::Env::start(&repo()).await?;
        results.insert("append", repeat(runs, || append::run(&env.log, sizes.append_events)).await?);
    }
    if wanted("rest") {
        say!(started, "rest: {} clients for {:?}, {runs} run(s)", sizes.rest_clients, sizes.rest_duration);
        let env = env::Env::start(&repo()).await?;
        let server = env.serve(&env::parley_binary()?, &[]).await?;
        let clients = rest::conversations(&server, sizes.rest_clients).await?;
        results.insert("rest", repeat(runs, || rest::run(&server, &clients, sizes.rest_duration)).await?);
    }
    if wanted("lag") {
        say!(started, "lag: {}/s for {:?}, {runs} run(s)", sizes.lag_rate, sizes.lag_duration);
        let env = env::Env::start(&repo()).await?;
        let _server = env.serve(&env::parley_binary()?, &[]).await?;
        results.insert("lag", repeat(runs, || lag::run(&env, sizes.lag_rate, sizes.lag_duration)).await?);
    }
    if wanted("ats") {
        say!(started, "ats: {} events at {}/s, {runs} run(s)", sizes.ats_events, sizes.ats_rate);
        let env = env::Env::start(&repo()).await?;
        let server = env.serve(&env::parley_binary()?, &[]).await?;
        results.insert(
            "ats",
            repeat(runs, || {
                ats::run(&env, &server, sizes.ats_applications, sizes.ats_rate, sizes.ats_events)
            })
            .await?,
        );
    }
    if wanted("flood") {
        say!(started, "flood: {} clients for {:?}, {runs} run(s)", sizes.flood_clients, sizes.flood_duration);
        let env = env::Env::start(&repo()).await?;
        let server = env.serve(&env::parley_binary()?, flood::LIMIT_SETTINGS).await?;
        let pair = rest::conversations(&server, 2).await?;
        results.insert(
            "flood",
            repeat(runs, || flood::run(&server, &pair, sizes.flood_clients, sizes.flood_duration)).await?,
        );
    }
    if wanted("ws") {
        say!(started, "ws: {} clients for {:?}, {runs} run(s)", sizes.ws_clients, sizes.ws_duration);
        let env = env::Env::start(&repo()).await?;
        let server = env.serve(&env::parley_binary()?, &[]).await?;
        let clients = rest::conversations(&server, sizes.ws_clients).await?;
        results.insert("ws", repeat(runs, || ws::send(&server, &clients, sizes.ws_duration)).await?);
    }
    if wanted("delivery") {
        say!(
            started,
            "delivery: {} users, {}/s for {:?}, {runs} run(s)",
            sizes.delivery_users,
            sizes.delivery_rate,
            sizes.delivery_duration
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
        say!(started, "idle: {} sessions, {runs} run(s)", sizes.idle_sessions);
        let mut samples = Vec::new();
        for _ in 0..runs {
            // A fresh server each run: memory is measured from its baseline.
            let env = env::Env::start(&repo()).await?;
            let server = env.serve(&env::parley_binary()?, &[]).await?;
            samples.push(ws::idle(&server, sizes.idle_sessions).await?);
        }
        results.insert("idle", super::report::Figures::from_runs(&samples));
    }
    if wanted("projector") {
        say!(
            started,
            "projector: {} messages in {} conversations, rebuilt {runs} time(s)",
            sizes.projector_messages,
            sizes.log_conversations
        );
        let env = env::Env::start(&repo()).await?;
        let log = biglog::seed(&env, sizes.log_conversations, sizes.projector_messages).await?;
        results.insert("projector", repeat(runs, || biglog::projector(&env, &log)).await?);
    }
    if wanted("history") || wanted("replay") {
        say!(started, "seeding {} messages in {} conversations", sizes.log_messages, sizes.log_conversations);
        let env = env::Env::start(&repo()).await?;
        let log = biglog::seed(&env, sizes.log_conversations, sizes.log_messages).await?;
        if wanted("replay") {
            results.insert("replay", repeat(runs, || biglog::replay(&env, &log)).await?);
        }
        if wanted("history") {
            // One rebuild builds the read models the pages are read from; its rate is shown
            // beside the history figures (one run: it is the projector row at full size).
            let mut figures = biglog::build_read_models(&env, &log).await?;
            let server = env.serve(&env::parley_binary()?, &[]).await?;
            let pages = repeat(runs, || biglog::history(&server, &log, sizes.history_requests)).await?;
            figures.0.extend(pages.0);
            results.insert("history", figures);
        }
    }
    if wanted("partitions") {
        say!(
            started,
            "partitions: a backlog of {} events with 1, 2 and 3 partitions, {runs} run(s)",
            sizes.partition_events
        );
        let mut figures = super::report::Figures::default();
        let root = repo();
        for (count, key) in [(1, "rate_1"), (2, "rate_2"), (3, "rate_3")] {
            let measured = repeat(runs, || partitions::run(&root, count, sizes.partition_events)).await?;
            if let Some(rate) = measured.0.get("rate") {
                figures.0.insert(key, *rate);
            }
            if let (1, Some(rate)) = (count, measured.0.get("copy_rate")) {
                figures.0.insert("copy_rate", *rate);
            }
        }
        results.insert("partitions", figures);
    }
    say!(started, "done");
    Ok(results)
}
