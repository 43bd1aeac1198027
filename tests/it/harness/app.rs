//! `TestApp`: the real `parley serve` application on 127.0.0.1:0 against a `TestEnv`.

use parley::config::Config;
use parley::http::AppState;
use parley::startup::Application;
use tokio::sync::oneshot;

use super::env::TestEnv;

pub struct TestApp {
    pub env: TestEnv,
    pub address: String,
    pub http: reqwest::Client,
    #[allow(dead_code, reason = "read by tests of later features")]
    pub state: AppState,
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

    /// Spawns with a configuration the test adjusts first.
    pub async fn spawn_with(env: TestEnv, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_tests(
            env.nats_url(),
            env.database_url.clone(),
            env.dir.path().join("data"),
        );
        adjust(&mut config);
        let app = Application::build(config)
            .await
            .expect("building the application");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            env,
            address,
            http: reqwest::Client::new(),
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers")
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
