//! Spreading projector partitions over the instances. Each instance holds a shared PostgreSQL
//! advisory lock while it runs, so counting that lock's holders counts the live instances; an
//! instance takes free partitions while it holds fewer than its fair share
//! (`ceil(partitions / instances)`) and hands one back when it holds more, so a new instance
//! gets work within seconds and a dead one's partitions are taken over as soon as its
//! connections close.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;

/// How often the instances are counted and shares rechecked.
pub const CHECK: Duration = Duration::from_secs(2);
/// The advisory lock every running instance holds in shared mode.
const MEMBER_KEY: i64 = 0x7061_726c_4d00_0000;

/// What the partition runners of one instance share.
#[derive(Clone)]
pub struct Leadership {
    partitions: u32,
    held: Arc<AtomicU32>,
    instances: Arc<AtomicU32>,
}

/// One partition this instance applies; handing it back or dropping it frees the share.
pub struct Held {
    held: Arc<AtomicU32>,
    released: bool,
}

impl Leadership {
    pub fn new(partitions: u32) -> Self {
        Self { partitions, held: Arc::new(AtomicU32::new(0)), instances: Arc::new(AtomicU32::new(1)) }
    }

    /// The most partitions this instance should apply.
    pub fn share(&self) -> u32 {
        self.partitions.div_ceil(self.instances.load(Ordering::Relaxed).max(1))
    }

    /// How many partitions this instance applies now.
    pub fn held(&self) -> u32 {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether this instance should try to take another partition.
    pub fn may_take(&self) -> bool {
        self.held() < self.share()
    }

    /// Counts a partition this instance was elected for.
    pub fn took(&self) -> Held {
        report(self.held.fetch_add(1, Ordering::Relaxed) + 1);
        Held { held: self.held.clone(), released: false }
    }

    /// Resolves when `held` should be handed to another instance: this one holds more than
    /// its share. Only one of the instance's partitions is handed back per check.
    pub async fn over_share(&self, held: &mut Held) {
        loop {
            tokio::time::sleep(CHECK).await;
            let share = self.share();
            let mut current = self.held.load(Ordering::Relaxed);
            while current > share {
                match self.held.compare_exchange(current, current - 1, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        report(current - 1);
                        held.released = true;
                        return;
                    }
                    Err(now) => current = now,
                }
            }
        }
    }

    /// Holds the membership lock and counts the instances until `stop`.
    pub async fn count_instances(self, database_url: String, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let session = async {
                let options = super::schema::connect_options(&database_url, super::schema::SCHEMA)?;
                let mut conn = PgConnection::connect_with(&options).await?;
                sqlx::query!("SELECT pg_advisory_lock_shared($1)", MEMBER_KEY).fetch_one(&mut conn).await?;
                loop {
                    let count = count_members(&mut conn).await?;
                    self.instances.store(count.max(1), Ordering::Relaxed);
                    metrics::gauge!("parley_projector_instances").set(f64::from(count));
                    tokio::time::sleep(CHECK).await;
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                result = session => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "counting instances failed; retrying");
                    }
                }
                () = stop.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(CHECK) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.released {
            report(self.held.fetch_sub(1, Ordering::Relaxed) - 1);
        }
    }
}

fn report(held: u32) {
    metrics::gauge!("parley_projector_partitions_held").set(f64::from(held));
}

/// How many `parley serve` instances use this database now (tools that must run alone check).
pub async fn running_instances(conn: &mut PgConnection) -> Result<u32, sqlx::Error> {
    count_members(conn).await
}

/// Sessions holding the membership lock in this database (a bigint advisory key shows in
/// `pg_locks` as its high half in `classid`, its low half in `objid`, and `objsubid` 1).
async fn count_members(conn: &mut PgConnection) -> Result<u32, sqlx::Error> {
    let count = sqlx::query_scalar!(
        "SELECT count(DISTINCT pid) FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 1
           AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        MEMBER_KEY,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(count.unwrap_or(0) as u32)
}
