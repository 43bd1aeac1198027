//! A 3-node NATS JetStream cluster on loopback ports (the test version of
//! scripts/nats-cluster): fixed ports per node so a killed node restarts where it was, and
//! the name of the node that leads a stream.

use std::path::Path;
use std::time::Duration;

use parley::embedded::{NatsServer, process};

use super::env::nats_options;

pub struct NatsCluster {
    pub nodes: Vec<NatsServer>,
    pub names: Vec<String>,
}

impl NatsCluster {
    pub async fn start(dir: &Path, size: usize) -> Self {
        let client_ports: Vec<u16> = (0..size).map(|_| process::free_port().expect("a free port")).collect();
        let route_ports: Vec<u16> = (0..size).map(|_| process::free_port().expect("a free port")).collect();
        let routes =
            route_ports.iter().map(|p| format!("nats-route://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        let mut nodes = Vec::new();
        let mut names = Vec::new();
        for i in 0..size {
            let name = format!("n{}", i + 1);
            let mut options = nats_options(&dir.join(&name)).await;
            std::fs::create_dir_all(dir.join(&name)).expect("a node directory");
            options.port = Some(client_ports[i]);
            options.args = vec![
                "-n".into(),
                name.clone(),
                "--cluster_name".into(),
                "parley".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{}", route_ports[i]),
                "--routes".into(),
                routes.clone(),
            ];
            nodes.push(NatsServer::start(options).await.expect("starting a cluster node"));
            names.push(name);
        }
        let cluster = Self { nodes, names };
        cluster.wait_for_meta_leader().await;
        cluster
    }

    /// Every node's URL, comma-separated (as NATS_URL takes them).
    pub fn url(&self) -> String {
        self.nodes.iter().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }

    /// Waits until JetStream answers through the first node (a metadata leader is elected).
    async fn wait_for_meta_leader(&self) {
        let client = async_nats::connect(self.nodes[0].url()).await.expect("connecting to the cluster");
        let js = async_nats::jetstream::new(client);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while js.query_account().await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the cluster elected no JetStream leader");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The index of the node that leads `stream` now.
    pub async fn stream_leader(&self, js: &async_nats::jetstream::Context, stream: &str) -> usize {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut handle) = js.get_stream(stream).await
                && let Ok(info) = handle.info().await
                && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
                && let Some(index) = self.names.iter().position(|n| *n == leader)
            {
                return index;
            }
            assert!(tokio::time::Instant::now() < deadline, "{stream} has no leader");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Moves the leadership of `stream` (by asking its leader to step down until the election
    /// lands there) to the node that leads `with`, and returns that node: killing it then
    /// kills both leaders at once.
    pub async fn lead_together(
        &self,
        client: &async_nats::Client,
        js: &async_nats::jetstream::Context,
        stream: &str,
        with: &str,
    ) -> usize {
        for stepdowns in 0..30 {
            let target = self.stream_leader(js, with).await;
            if self.stream_leader(js, stream).await == target {
                eprintln!("{stream} and {with} led by {} after {stepdowns} step-down(s)", self.names[target]);
                return target;
            }
            let subject = format!("$JS.API.STREAM.LEADER.STEPDOWN.{stream}");
            let _ = client.request(subject, "".into()).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("{stream} never came to be led by the node that leads {with}");
    }
}
