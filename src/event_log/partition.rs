//! Which projector partition an event belongs to. The server does the partitioning:
//! `PARLEY_EVENTS_BY_PARTITION` sources `PARLEY_EVENTS` and prefixes each event's subject with
//! its bucket, NATS's deterministic subject-token partitioning of the conversation id
//! (`{{partition(24,1)}}`: 32-bit FNV-1a of the token, modulo 24; `tests/it/scale.rs` checks
//! this module against the server). User events are few and all go to bucket 0. Partition `k`
//! of `n` owns the buckets `b` with `b % n == k`, so its durable consumer filters on them and
//! receives only its own events: projection work divides between partitions instead of every
//! partition reading the whole log.
//!
//! The partition counts a deployment may use divide 24, so every partition owns as many
//! buckets as any other, and `(h % 24) % n == h % n`: a conversation keeps the partition it had
//! when partitions were hashed modulo `n` directly.
//!
//! Every row of the read models is keyed by one conversation (conversations, participants,
//! messages, reactions, attachments) or by one user (profiles), so a partition owns whole
//! rows: per-row order holds however many partitions there are.

use crate::domain::ConversationId;

/// The buckets of the partitioned copy: `{{partition(24,1)}}` in its stream definition.
pub const BUCKETS: u32 = 24;
/// The most projector partitions a deployment may have; each has a durable consumer named in
/// `subjects::DURABLE_CONSUMERS`.
pub const MAX_PARTITIONS: u32 = 8;
/// The partition counts a deployment may use: those up to `MAX_PARTITIONS` that divide
/// `BUCKETS`.
pub const COUNTS: [u32; 6] = [1, 2, 3, 4, 6, 8];

/// The subject prefix of the partitioned copy.
const PREFIX: &str = "parley.part.";

/// The partition of a stored event's subject among `partitions`; subjects that are not a
/// conversation's (user events, anything unreadable) belong to partition 0.
pub fn of_subject(subject: &str, partitions: u32) -> u32 {
    match subject.strip_prefix("parley.conv.").and_then(|rest| rest.split('.').next()) {
        Some(token) if partitions > 1 => bucket_of_token(token) % partitions,
        _ => 0,
    }
}

/// The partition of a conversation's events among `partitions`.
pub fn of_conversation(id: &ConversationId, partitions: u32) -> u32 {
    if partitions <= 1 {
        return 0;
    }
    bucket_of_token(&id.to_string()) % partitions
}

/// The bucket the partitioned copy files a conversation's events under.
pub fn bucket_of_conversation(id: &ConversationId) -> u32 {
    bucket_of_token(&id.to_string())
}

fn bucket_of_token(token: &str) -> u32 {
    fnv1a32(token.as_bytes()) % BUCKETS
}

/// The subjects of the partitioned copy that `partition` of `partitions` consumes; none when
/// it consumes them all.
pub fn filters(partition: u32, partitions: u32) -> Vec<String> {
    if partitions <= 1 {
        return Vec::new();
    }
    (0..BUCKETS).filter(|b| b % partitions == partition).map(|b| format!("{PREFIX}{b}.>")).collect()
}

/// Every copied event of one conversation (what an erasure purges).
pub fn conversation_filter(id: &ConversationId) -> String {
    format!("{PREFIX}{}.conv.{id}.*", bucket_of_conversation(id))
}

/// The `PARLEY_EVENTS` subject of an event of the partitioned copy.
pub fn original_subject(copied: &str) -> Option<String> {
    let (bucket, original) = copied.strip_prefix(PREFIX)?.split_once('.')?;
    bucket.parse::<u32>().ok().filter(|b| *b < BUCKETS)?;
    Some(format!("parley.{original}"))
}

/// The `PARLEY_EVENTS` sequence of an event of the partitioned copy, from the header the
/// server adds when it sources one: `Nats-Stream-Source: PARLEY_EVENTS <seq> <filters> ...`.
pub fn original_seq(headers: Option<&async_nats::HeaderMap>) -> Option<u64> {
    let source = headers?.get("Nats-Stream-Source")?.as_str();
    let mut fields = source.split(' ');
    let stream = fields.next()?;
    // A source in another account or domain is named `stream:hash`.
    (stream.split(':').next() == Some(super::subjects::EVENTS_STREAM)).then_some(())?;
    fields.next()?.parse().ok()
}

/// 32-bit FNV-1a, as Go's `hash/fnv.New32a`.
fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_matches_the_published_test_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn user_events_and_a_single_partition_go_to_partition_zero() {
        assert_eq!(of_subject("parley.user.abe.user_profile_updated", 3), 0);
        assert_eq!(of_subject("parley.conv.0190d5a4-0000-7000-8000-000000000000.message_sent", 1), 0);
    }

    #[test]
    fn a_conversation_s_events_share_a_partition_and_conversations_spread() {
        let mut seen = [0u32; 3];
        for _ in 0..300 {
            let id = ConversationId::new();
            let p = of_conversation(&id, 3);
            assert_eq!(of_subject(&format!("parley.conv.{id}.message_sent"), 3), p);
            assert_eq!(of_subject(&format!("parley.conv.{id}.conversation_created"), 3), p);
            seen[p as usize] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "uneven spread {seen:?}");
    }

    #[test]
    fn the_allowed_counts_are_the_divisors_of_the_buckets_up_to_the_most() {
        let divisors: Vec<u32> = (1..=MAX_PARTITIONS).filter(|n| BUCKETS.is_multiple_of(*n)).collect();
        assert_eq!(COUNTS.to_vec(), divisors);
    }

    #[test]
    fn the_partitions_of_a_count_own_every_bucket_once_and_equally() {
        for n in COUNTS {
            let mut owners = vec![Vec::new(); BUCKETS as usize];
            for p in 0..n {
                let filters = filters(p, n);
                if n == 1 {
                    assert!(filters.is_empty(), "one partition consumes the whole copy");
                    owners.iter_mut().for_each(|o| o.push(p));
                }
                for filter in filters {
                    let bucket = filter.strip_prefix(PREFIX).and_then(|f| f.strip_suffix(".>")).unwrap();
                    owners[bucket.parse::<usize>().unwrap()].push(p);
                }
            }
            assert!(owners.iter().all(|o| o.len() == 1), "{n} partitions: {owners:?}");
        }
    }

    #[test]
    fn a_conversation_s_bucket_decides_its_partition_and_the_count_s_old_hash_is_kept() {
        for _ in 0..200 {
            let id = ConversationId::new();
            let hash = fnv1a32(id.to_string().as_bytes());
            for n in COUNTS {
                let p = of_conversation(&id, n);
                assert_eq!(p, hash % n, "the partition a direct hash gave");
                let subject = format!("parley.part.{}.conv.{id}.message_sent", bucket_of_conversation(&id));
                let filters = filters(p, n);
                assert!(
                    filters.is_empty()
                        || filters.iter().any(|f| subject.starts_with(f.trim_end_matches('>')))
                );
            }
        }
    }

    #[test]
    fn a_copied_event_names_its_original_subject_and_sequence() {
        let original = |copied: &str| original_subject(copied);
        assert_eq!(
            original("parley.part.17.conv.abc.message_sent").as_deref(),
            Some("parley.conv.abc.message_sent")
        );
        assert_eq!(
            original("parley.part.0.user.bob.user_profile_updated").as_deref(),
            Some("parley.user.bob.user_profile_updated")
        );
        assert_eq!(original_subject("parley.part.24.conv.abc.message_sent"), None);
        assert_eq!(original_subject("parley.conv.abc.message_sent"), None);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Stream-Source",
            "PARLEY_EVENTS 4711 parley.conv.*.*\u{c}parley.user.*.* dest parley.conv.abc.message_sent p6a7oOH6",
        );
        assert_eq!(original_seq(Some(&headers)), Some(4711));
        headers.insert("Nats-Stream-Source", "OTHER 4711 x y z");
        assert_eq!(original_seq(Some(&headers)), None);
        assert_eq!(original_seq(None), None);
    }
}
