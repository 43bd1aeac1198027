//! `parley replay`: connects with the given (read-only) NATS credentials, runs the library's
//! replay into stdout or a file, shows progress on stderr, and ends cleanly on SIGINT or
//! SIGTERM with the output flushed. Starts no server and writes nothing to NATS.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parley::config::{ReplayArgs, redact_url};
use parley::replay::{self, Progress, ReplayError};
use tokio_util::sync::CancellationToken;

pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let options = args.options();
    options.validate()?;
    let client = connect(&args).await?;
    let js = async_nats::jetstream::new(client.clone());
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Box::new(std::io::stdout()),
    };
    let stop = CancellationToken::new();
    tokio::spawn(cancel_on_signal(stop.clone()));
    let progress = Arc::new(Progress::default());
    let reporting = CancellationToken::new();
    let reporter = tokio::spawn(report(progress.clone(), reporting.clone()));
    let started = Instant::now();
    let result = replay::run(&js, &options, out, &progress, &stop).await;
    reporting.cancel();
    let _ = reporter.await;
    let summary = match result {
        Ok(summary) => summary,
        // The reader of stdout went away (`parley replay | head`): nothing left to do.
        Err(ReplayError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e).context("replay stopped"),
    };
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "replay: {} records written ({} events read, {} could not be decoded) in {seconds:.1} s, {:.0} events/s",
        summary.written,
        summary.read,
        summary.errors,
        summary.read as f64 / seconds.max(1e-9),
    );
    Ok(())
}

async fn connect(args: &ReplayArgs) -> anyhow::Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name("parley-replay")
        .custom_inbox_prefix(&args.inbox_prefix)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            if let async_nats::Event::ServerError(error) = event {
                tracing::warn!(%error, "NATS refused an operation");
            }
        });
    if let Some(path) = &args.nats_creds {
        options = options
            .credentials_file(path)
            .await
            .with_context(|| format!("reading the NATS credentials in {}", path.display()))?;
    } else if let (Some(user), Some(password)) = (&args.nats_user, &args.nats_password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    options.connect(&args.nats_url).await.with_context(|| {
        format!(
            "cannot reach NATS at {} (replay needs a running server: set --nats-url / NATS_URL)",
            redact_url(&args.nats_url)
        )
    })
}

/// Cancels `stop` on SIGINT or SIGTERM.
async fn cancel_on_signal(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    stop.cancel();
}

/// Shows progress on stderr until `done`: a progress bar on a terminal, otherwise a line
/// every few seconds (for logs of scheduled runs).
async fn report(progress: Arc<Progress>, done: CancellationToken) {
    if std::io::stderr().is_terminal() {
        bar(&progress, &done).await;
    } else {
        lines(&progress, &done).await;
    }
}

async fn bar(progress: &Progress, done: &CancellationToken) {
    let style = ProgressStyle::with_template("{spinner} {pos}/{len} events  {per_sec}  eta {eta}  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()).with_style(style);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = done.cancelled() => break,
            _ = tick.tick() => {}
        }
        let read = progress.read();
        bar.set_length(progress.total().max(read));
        bar.set_position(read);
        if progress.caught_up() {
            bar.set_message("caught up, following");
        }
    }
    bar.finish_and_clear();
}

async fn lines(progress: &Progress, done: &CancellationToken) {
    let period = Duration::from_secs(5);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut last = 0;
    loop {
        tokio::select! {
            _ = done.cancelled() => break,
            _ = tick.tick() => {}
        }
        let read = progress.read();
        eprintln!(
            "replay: {read} of {} events read, {} written, {} could not be decoded, {:.0} events/s",
            progress.total().max(read),
            progress.written(),
            progress.errors(),
            (read - last) as f64 / period.as_secs_f64(),
        );
        last = read;
    }
}
