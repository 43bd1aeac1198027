//! How many projector partitions the read models are built with. Every instance must use the
//! same number: a partition's checkpoint only covers the conversations the count assigned to
//! it, so instances disagreeing would skip or repeat events. The number is stored with the
//! read models at first start and changed only by a rebuild (which reads the whole log again).

use sqlx::PgConnection;

use super::checkpoint::PROJECTION;
use crate::event_log::partition::COUNTS;

#[derive(Debug, thiserror::Error)]
pub enum PartitionsError {
    #[error(
        "the projector partition count must be 1, 2, 3, 4, 6 or 8 (a divisor of the 24 buckets), is {0}; \
         read models built with another count are rebuilt with `parley projections rebuild --partitions N`"
    )]
    OutOfRange(u32),
    #[error(
        "the read models are built with {stored} projector partition(s), but this instance is configured \
         with {configured}: set PARLEY_PROJECTOR_PARTITIONS={stored}, or stop every instance and run \
         `parley projections rebuild --partitions {configured}`"
    )]
    Mismatch { stored: u32, configured: u32 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub fn check_range(partitions: u32) -> Result<u32, PartitionsError> {
    if COUNTS.contains(&partitions) { Ok(partitions) } else { Err(PartitionsError::OutOfRange(partitions)) }
}

/// The stored count, if any. Read models built before partitions existed have none: they were
/// built by one projector, so they count as one partition once they hold a checkpoint.
pub async fn stored(conn: &mut PgConnection) -> Result<Option<u32>, sqlx::Error> {
    let row = sqlx::query_scalar!(
        r#"SELECT COALESCE(
               (SELECT partitions FROM projection_partitions WHERE projection = $1),
               (SELECT 1 FROM projector_checkpoints WHERE projection = $1 LIMIT 1)) AS "partitions""#,
        PROJECTION,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.map(|p| p as u32))
}

/// Records `configured` for fresh read models, or checks it against the stored count.
pub async fn settle(conn: &mut PgConnection, configured: u32) -> Result<u32, PartitionsError> {
    check_range(configured)?;
    let first = stored(conn).await?.unwrap_or(configured);
    // Of instances starting together on fresh read models, the first to insert decides.
    sqlx::query!(
        "INSERT INTO projection_partitions (projection, partitions) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        PROJECTION,
        first as i32,
    )
    .execute(&mut *conn)
    .await?;
    let stored = stored(conn).await?.unwrap_or(first);
    if stored != configured {
        return Err(PartitionsError::Mismatch { stored, configured });
    }
    // Every partition has a checkpoint row from the start, so the smallest one is a watermark
    // even before a partition has applied anything.
    sqlx::query!(
        "INSERT INTO projector_checkpoints (projection, partition, last_seq)
         SELECT $1, p, 0 FROM generate_series(0, $2 - 1) AS p ON CONFLICT DO NOTHING",
        PROJECTION,
        configured as i32,
    )
    .execute(&mut *conn)
    .await?;
    Ok(configured)
}

/// Stores the count (a rebuild writes its own).
pub async fn write(conn: &mut PgConnection, partitions: u32) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO projection_partitions (projection, partitions) VALUES ($1, $2)
         ON CONFLICT (projection) DO UPDATE SET partitions = EXCLUDED.partitions",
        PROJECTION,
        partitions as i32,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_counts_that_divide_the_buckets_are_accepted() {
        for n in COUNTS {
            assert_eq!(check_range(n).unwrap(), n);
        }
        for n in [0, 5, 7, 9, 12, 24] {
            let message = check_range(n).unwrap_err().to_string();
            assert!(
                message.contains("1, 2, 3, 4, 6 or 8") && message.contains(&format!("is {n};")),
                "{message}"
            );
        }
    }
}
