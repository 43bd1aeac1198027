//! Builds a running Parley from a `Config`: embedded servers when none are configured, the
//! NATS and PostgreSQL connections, streams and migrations, background tasks, and the HTTP
//! listener. `Application::port` reports the bound port (tests listen on port 0).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::attachments::{self, Attachments};
use crate::auth::Verifier;
use crate::commands::Commands;
use crate::config::{Config, Environment, redact_url};
use crate::embedded::Embedded;
use crate::event_log::{self, EventLog};
use crate::http::{self, AppState};
use crate::live::Live;
use crate::projections::{self, Progress};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    embedded: Option<Embedded>,
    database_url: String,
    /// The live feed, presence, typing and unread tasks.
    live_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        // An empty variable (`DATABASE_URL=`) means unset, as shells and compose files use it.
        config.nats_url = config.nats_url.filter(|url| !url.trim().is_empty());
        config.database_url = config.database_url.filter(|url| !url.trim().is_empty());
        // Before anything records a metric, so that nothing recorded is lost.
        http::metrics::handle();
        check_config(&config)?;
        // Keys are checked before any connection, so a missing or broken key is named at once.
        let verifier = Verifier::from_config(&config.auth, config.environment, &config.data_dir)?;
        tracing::info!(
            algorithm = %verifier.algorithm(),
            issuer = config.auth.jwt_issuer.as_deref(),
            audience = config.auth.jwt_audience.as_deref(),
            "verifying bearer tokens"
        );
        let need_nats = config.nats_url.is_none();
        let need_pg = config.database_url.is_none();
        let embedded = if need_nats || need_pg {
            Some(Embedded::start(&config.data_dir, need_nats, need_pg).await?)
        } else {
            None
        };
        let nats_url = config
            .nats_url
            .clone()
            .or_else(|| embedded.as_ref().and_then(|e| e.nats_url.clone()))
            .expect("embedded NATS started when none is configured");
        let database_url = config
            .database_url
            .clone()
            .or_else(|| embedded.as_ref().and_then(|e| e.database_url.clone()))
            .expect("embedded PostgreSQL started when none is configured");

        let credentials = config.nats_user.clone().zip(config.nats_password.clone());
        let client = connect_nats(&nats_url, credentials, config.startup_timeout).await?;
        let log = EventLog::new(client).with_timeout(config.publish_timeout);
        apply_streams(&log, &config).await?;
        let attachments = Attachments::connect(log.jetstream(), &config.attachments)
            .await
            .context("opening the attachments bucket")?;
        let db = connect_postgres(&database_url, config.startup_timeout).await?;
        projections::schema::migrate(&db)
            .await
            .context("applying the read-model migrations in projections/")?;

        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (another process may use the port: set --listen / PARLEY_LISTEN)",
                config.listen
            )
        })?;
        let partitions = {
            let mut conn = db.acquire().await.context("connecting to PostgreSQL")?;
            projections::partitions::settle(&mut conn, config.projector_partitions).await?
        };
        let progress = Progress::new(partitions);
        let shutdown = CancellationToken::new();
        let (live, live_tasks) = Live::start(
            log.clone(),
            db.clone(),
            progress.clone(),
            config.live.clone(),
            config.write_wait,
            shutdown.clone(),
        )
        .await
        .context("starting live delivery (subscriptions and key-value buckets)")?;
        let limits = Arc::new(http::rate_limit::RateLimits::new(&config.limits));
        let sessions = crate::live::SessionCaps::new(config.limits.max_sessions_per_user);
        let state = AppState::new(http::Shared {
            commands: Commands::new(log.clone(), config.limits()),
            log,
            db,
            config: Arc::new(config),
            progress,
            presence: live.presence.clone(),
            attachments,
            live,
            auth: Arc::new(verifier),
            limits,
            sessions,
            shutdown,
        });
        Ok(Self { listener, state, embedded, database_url, live_tasks })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting, drains in-flight requests (up
    /// to the configured timeout), flushes NATS and stops embedded servers.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, embedded, database_url, live_tasks } = self;
        let token = state.shutdown.clone();
        let mut background = projections::spawn(
            state.log.clone(),
            state.db.clone(),
            database_url,
            state.progress.clone(),
            token.clone(),
        );
        background.push(crate::ats::spawn(state.log.clone(), state.commands.clone(), token.clone()));
        background.push(attachments::cleanup::spawn(
            state.attachments.clone(),
            state.log.clone(),
            state.db.clone(),
            state.progress.clone(),
            token.clone(),
        ));
        let drain_timeout = state.config.shutdown_timeout;
        let client = state.log.client().clone();
        tracing::info!(address = %listener.local_addr()?, "parley is listening");
        let limits = state.config.limits.clone();
        let app = http::router(state);
        let signal_token = token.clone();
        let serving = tokio::spawn(async move {
            http::server::serve(listener, app, &limits, async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections, draining requests");
                signal_token.cancel();
            })
            .await
        });
        token.cancelled().await;
        match tokio::time::timeout(drain_timeout, serving).await {
            Ok(result) => result.context("the HTTP server task failed")?,
            Err(_) => {
                tracing::warn!("in-flight requests did not finish within {drain_timeout:?}; closing them")
            }
        }
        for task in background.into_iter().chain(live_tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        if let Err(e) = tokio::time::timeout(Duration::from_secs(5), client.flush()).await {
            tracing::warn!(error = %e, "NATS flush did not finish");
        }
        if let Some(embedded) = embedded {
            embedded.shutdown().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

fn check_config(config: &Config) -> anyhow::Result<()> {
    if config.environment == Environment::Production {
        if config.nats_url.is_none() {
            bail!("production needs NATS_URL: embedded servers are for development only");
        }
        if config.database_url.is_none() {
            bail!("production needs DATABASE_URL: embedded servers are for development only");
        }
    }
    if let Some(url) = &config.nats_url {
        // A cluster may be named by several comma-separated URLs (the client also learns every
        // node from the one it reaches).
        for one in url.split(',') {
            check_url(one.trim(), &["nats", "tls", "ws", "wss"], "NATS_URL")?;
        }
    }
    if let Some(url) = &config.database_url {
        check_url(url, &["postgres", "postgresql"], "DATABASE_URL")?;
    }
    config.live.check().map_err(anyhow::Error::msg)?;
    config.limits.check().map_err(anyhow::Error::msg)?;
    if config.stream_replicas == 0 || config.stream_replicas > 5 {
        bail!("PARLEY_STREAM_REPLICAS must be between 1 and 5, is {}", config.stream_replicas);
    }
    let attachments = &config.attachments;
    if attachments.max_attachment_bytes == 0 {
        bail!("PARLEY_MAX_ATTACHMENT_BYTES must be at least 1");
    }
    let types = &attachments.attachment_types;
    if let Some(bad) =
        types.iter().find(|t| t.trim().split_once('/').is_none_or(|(a, b)| a.is_empty() || b.is_empty()))
    {
        bail!(
            "PARLEY_ATTACHMENT_TYPES must list MIME types like application/pdf, separated by commas; {bad:?} is not one"
        );
    }
    if attachments.attachment_orphan_ttl.is_zero() {
        bail!("PARLEY_ATTACHMENT_ORPHAN_TTL must be longer than zero");
    }
    Ok(())
}

fn check_url(url: &str, schemes: &[&str], name: &str) -> anyhow::Result<()> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("{name} {:?} is not a URL: expected {}://host:port", redact_url(url), schemes[0]);
    };
    if !schemes.contains(&scheme) || rest.is_empty() {
        bail!("{name} {:?} must start with one of {}", redact_url(url), schemes.join("://, ") + "://");
    }
    Ok(())
}

/// Connects to NATS (retrying until `timeout`), and refuses servers too old for Parley.
pub async fn connect_nats(
    url: &str,
    credentials: Option<(String, String)>,
    timeout: Duration,
) -> anyhow::Result<async_nats::Client> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut options = async_nats::ConnectOptions::new()
            .name("parley")
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(3))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Disconnected => {
                        tracing::warn!("NATS connection lost; reconnecting")
                    }
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    async_nats::Event::SlowConsumer(sid) => {
                        tracing::warn!(sid, "NATS slow consumer")
                    }
                    other => tracing::info!(event = %other, "NATS event"),
                }
            });
        if let Some((user, password)) = &credentials {
            options = options.user_and_password(user.clone(), password.clone());
        }
        let servers: Vec<&str> = url.split(',').map(str::trim).collect();
        match options.connect(servers).await {
            Ok(client) => {
                let version = client.server_info().version;
                event_log::check_server_version(&version).map_err(anyhow::Error::msg)?;
                return Ok(client);
            }
            Err(e) if Instant::now() < deadline => {
                tracing::warn!(url = %redact_url(url), error = %e, "NATS not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => bail!(
                "cannot reach NATS at {} within {:?}: {e} (is nats-server running? unset NATS_URL to use the embedded one)",
                redact_url(url),
                timeout
            ),
        }
    }
}

async fn apply_streams(log: &EventLog, config: &Config) -> anyhow::Result<()> {
    let deadline = Instant::now() + config.startup_timeout;
    loop {
        match event_log::streams::apply(log.jetstream(), config.stream_replicas).await {
            Ok(applied) => {
                tracing::info!(?applied, "streams applied");
                return Ok(());
            }
            // JetStream may still be recovering its stores right after the server starts.
            Err(event_log::streams::StreamSetupError::Apply(name, cause)) if Instant::now() < deadline => {
                tracing::warn!(stream = %name, %cause, "JetStream not ready; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Connects the service pool to PostgreSQL, retrying until `timeout`.
pub async fn connect_postgres(url: &str, timeout: Duration) -> anyhow::Result<PgPool> {
    let deadline = Instant::now() + timeout;
    loop {
        match projections::schema::connect_pool(url).await {
            Ok(pool) => return Ok(pool),
            Err(sqlx::Error::Configuration(e)) => {
                bail!("DATABASE_URL {:?} is invalid: {e}", redact_url(url))
            }
            Err(e) if Instant::now() < deadline => {
                tracing::warn!(url = %redact_url(url), error = %e, "PostgreSQL not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => bail!(
                "cannot reach PostgreSQL at {} within {timeout:?}: {e} (unset DATABASE_URL to use the embedded one)",
                redact_url(url)
            ),
        }
    }
}
