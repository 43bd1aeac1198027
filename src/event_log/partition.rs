//! Which projector partition an event belongs to: the conversation id token of its subject,
//! hashed exactly as nats-server's `{{partition(n,1)}}` subject-mapping function hashes it
//! (32-bit FNV-1a of the token, modulo `n`; `tests/it/scale.rs` checks against a server), so
//! the assignment is NATS's deterministic subject-token partitioning. The stored subjects stay
//! as they are (they are persisted names); each partition's projector reads the whole log and
//! applies its own conversations, so its checkpoint means "every event up to here that is
//! mine is applied" and the smallest checkpoint is a watermark for all read models.
//!
//! Every row of the read models is keyed by one conversation (conversations, participants,
//! messages, reactions, attachments) or by one user (profiles), so a partition owns whole
//! rows: per-row order holds however many partitions there are. User events are few and
//! all go to partition 0.

use crate::domain::ConversationId;

/// The most projector partitions a deployment may have; each has a durable consumer named in
/// `subjects::DURABLE_CONSUMERS` (and denied to analysts in nats.conf).
pub const MAX_PARTITIONS: u32 = 8;

/// The partition of a stored event's subject among `partitions`; subjects that are not a
/// conversation's (user events, anything unreadable) belong to partition 0.
pub fn of_subject(subject: &str, partitions: u32) -> u32 {
    match subject.strip_prefix("parley.conv.").and_then(|rest| rest.split('.').next()) {
        Some(token) if partitions > 1 => of_token(token, partitions),
        _ => 0,
    }
}

/// The partition of a conversation's events among `partitions`.
pub fn of_conversation(id: &ConversationId, partitions: u32) -> u32 {
    if partitions <= 1 {
        return 0;
    }
    of_token(&id.to_string(), partitions)
}

fn of_token(token: &str, partitions: u32) -> u32 {
    fnv1a32(token.as_bytes()) % partitions
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
}
