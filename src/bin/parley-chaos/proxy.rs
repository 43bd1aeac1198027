//! A TCP proxy that can be severed: every connection through it is dropped at once and new
//! ones are refused until it is restored. Parley reaches NATS through it to simulate a
//! network cut (`tc netem` is not available here).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl Proxy {
    /// Listens on a free local port and forwards to `upstream` (host:port).
    pub async fn start(upstream: String) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let proxy = Self { port, cut: cut.clone(), generation: generation.clone() };
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else { continue };
                if cut.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let mut severed = generation.subscribe();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&upstream).await else { return };
                    let (mut a, mut b) = (inbound, outbound);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                        _ = severed.changed() => {}
                    }
                });
            }
        });
        Ok(proxy)
    }

    /// Drops every connection and refuses new ones.
    pub fn sever(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}
