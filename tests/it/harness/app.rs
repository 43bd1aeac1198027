//! `TestApp`: the real `parley serve` application on 127.0.0.1:0 against a `TestEnv`, and
//! more instances (`Server`s) on the same NATS and PostgreSQL for cross-instance tests.

use std::ops::Deref;
use std::time::Duration;

use parley::auth::Signer;
use parley::config::{Config, JwtAlgorithm};
use parley::domain::{Role, UserId};
use parley::http::AppState;
use parley::startup::Application;
use tokio::sync::oneshot;

use super::env::TestEnv;

/// The HS256 secret every `TestApp` verifies with, unless a test configures another key.
pub const TEST_JWT_SECRET: &str = "parley-integration-tests-secret-0123456789";

pub struct TestApp {
    pub env: TestEnv,
    pub server: Server,
}

impl Deref for TestApp {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

/// One running instance.
pub struct Server {
    pub address: String,
    pub http: reqwest::Client,
    pub state: AppState,
    /// Signs tokens the app accepts; `None` when a test configured a public-key algorithm.
    signer: Option<Signer>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_in(TestEnv::start().await).await
    }

    pub async fn spawn_in(env: TestEnv) -> Self {
        Self::spawn_with(env, |_| {}).await
    }

    /// Spawns with a configuration the test adjusts first. Tokens are HS256 with
    /// [`TEST_JWT_SECRET`] unless the test changes that.
    pub async fn spawn_with(env: TestEnv, adjust: impl FnOnce(&mut Config)) -> Self {
        let server = Server::start(&env, "data", adjust).await;
        Self { env, server }
    }

    /// Another instance on the same nats-server and database.
    pub async fn peer(&self, adjust: impl FnOnce(&mut Config)) -> Server {
        Server::start(&self.env, &format!("data-{}", uuid::Uuid::new_v4().simple()), adjust).await
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.server.shutdown().await
    }

    /// Stops the server gracefully and hands back its services, for a test that works on them
    /// with the server down and may start it again (`TestApp::spawn_in`).
    pub async fn stop(self) -> TestEnv {
        self.server.shutdown().await.expect("a graceful stop");
        self.env
    }
}

impl Server {
    async fn start(env: &TestEnv, data: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config =
            Config::for_tests(env.nats_url(), env.database_url.clone(), env.dir.path().join(data));
        config.auth.jwt_secret = Some(TEST_JWT_SECRET.into());
        adjust(&mut config);
        let signer = match (&config.auth.jwt_algorithm, &config.auth.jwt_secret) {
            (JwtAlgorithm::Hs256, Some(secret)) => Some(
                Signer::hs256(secret.as_bytes())
                    .with_issuer(config.auth.jwt_issuer.clone())
                    .with_audience(config.auth.jwt_audience.clone()),
            ),
            _ => None,
        };
        let app = Application::build(config).await.expect("building the application");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self { address, http: reqwest::Client::new(), state, signer, stop: Some(stop), task: Some(task) }
    }

    /// Waits until the read models include every event in the log.
    pub async fn catch_up(&self) {
        let tip = self.state.log.last_seq().await.expect("reading the stream tip");
        let caught_up =
            self.state.progress.wait_for(tip, std::time::Duration::from_secs(30), &self.state.db).await;
        assert!(caught_up, "the projector did not reach sequence {tip} within 30 s");
    }

    /// Appends events of one conversation as `actor`, without any expectation.
    pub async fn append(
        &self,
        conversation: parley::domain::ConversationId,
        actor: &parley::domain::Actor,
        events: Vec<parley::domain::ConversationEvent>,
    ) -> parley::event_log::Appended {
        let envelopes: Vec<_> = events
            .into_iter()
            .map(|event| parley::domain::Envelope {
                event_id: parley::domain::EventId::new(),
                occurred_at: chrono::Utc::now(),
                actor: actor.clone(),
                event: parley::domain::Event::Conversation(conversation, event),
            })
            .collect();
        let scope = parley::event_log::subjects::conversation_filter(&conversation);
        let dedup = uuid::Uuid::new_v4().to_string();
        self.state
            .log
            .append(&scope, &envelopes, parley::event_log::Expectation::Any, &dedup)
            .await
            .expect("appending events")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("the server answers")
    }

    /// Signs tokens this app accepts, for tests that need unusual claims.
    pub fn signer(&self) -> &Signer {
        self.signer
            .as_ref()
            .expect("the app verifies HS256 with a known secret; sign RS256/EdDSA tokens yourself")
    }

    /// A token for `user` in `role`, valid for an hour.
    pub fn token(&self, user: &str, role: Role) -> String {
        let user = UserId::parse(user).expect("a valid user id");
        self.signer().mint(&user, role, None, Duration::from_secs(3600)).expect("signing a token")
    }

    /// GET with `Authorization: Bearer <token>`.
    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.expect("the server answers")
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}
