//! The real services a test talks to: its own nats-server (JetStream, temporary store, killed
//! on drop) and its own fresh PostgreSQL database.
//!
//! PostgreSQL: when `PARLEY_TEST_DATABASE_URL` names a server (scripts/test starts one), each
//! test creates a fresh database on it; otherwise each test starts a private cluster copied
//! from a template that is initialised once under `target/`.

use std::path::{Path, PathBuf};

use parley::embedded::{self, NatsOptions, NatsServer, PgCluster, PgOptions};
use tempfile::TempDir;

pub struct TestEnv {
    pub nats: NatsServer,
    pub database_url: String,
    /// Held for tests that stop or pause PostgreSQL; `None` on a shared server.
    pub pg: Option<PgCluster>,
    pub dir: TempDir,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub async fn nats_options(dir: &Path) -> NatsOptions {
    NatsOptions {
        binary: embedded::find_nats_server(&repo_root().join(".parley"))
            .expect("a nats-server 2.12+ (scripts/test installs one under .parley/venv)"),
        store_dir: dir.join("nats"),
        port: None,
        config_file: None,
        log_file: Some(dir.join("nats.log")),
        env: Vec::new(),
        args: Vec::new(),
    }
}

impl TestEnv {
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// `own_postgres`: a private cluster even when a shared server is configured, for tests
    /// that kill or pause PostgreSQL.
    pub async fn start_with(own_postgres: bool) -> Self {
        let dir = tempfile::Builder::new().prefix("parley-test-").tempdir().expect("a temporary directory");
        let nats = NatsServer::start(nats_options(dir.path()).await).await.expect("starting nats-server");
        let shared = std::env::var("PARLEY_TEST_DATABASE_URL").ok().filter(|_| !own_postgres);
        let (database_url, pg) = match shared {
            Some(admin_url) => {
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                embedded::ensure_database(&admin_url, &name).await.expect("creating a test database");
                (replace_database(&admin_url, &name), None)
            }
            None => {
                let cluster = private_cluster(dir.path()).await;
                cluster.ensure_database("parley").await.expect("creating the test database");
                (cluster.url("parley"), Some(cluster))
            }
        };
        Self { nats, database_url, pg, dir }
    }

    pub fn nats_url(&self) -> String {
        self.nats.url()
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{database}{query}")
}

/// A cluster of this test's own, copied from a template initialised once (initdb is slow).
async fn private_cluster(dir: &Path) -> PgCluster {
    let template = repo_root().join("target/parley-test-pg-template");
    let lock_path = repo_root().join("target/parley-test-pg-template.lock");
    {
        let lock = std::fs::File::create(&lock_path).expect("creating the template lock");
        lock.lock().expect("locking the template");
        if !template.join("PG_VERSION").exists() {
            let mut cluster = PgCluster::start(PgOptions {
                data_dir: template.clone(),
                port: None,
                fast_unsafe: true,
                log_file: None,
            })
            .await
            .expect("initialising the PostgreSQL template");
            cluster.stop().await;
        }
    }
    let data_dir = dir.join("pg");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&template)
        .arg(&data_dir)
        .status()
        .expect("copying the PostgreSQL template");
    assert!(status.success(), "copying the PostgreSQL template failed");
    let _ = std::fs::remove_file(data_dir.join("postmaster.pid"));
    PgCluster::start(PgOptions {
        data_dir,
        port: None,
        fast_unsafe: true,
        log_file: Some(dir.join("pg.log")),
    })
    .await
    .expect("starting a private PostgreSQL")
}
