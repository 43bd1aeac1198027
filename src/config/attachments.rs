//! Attachment settings of `parley serve`: how large an upload may be, which content types are
//! accepted, and how long an upload no message references is kept.

use std::time::Duration;

use clap::Args;

use super::parse_duration;

/// The content types accepted by default, as sniffed from the bytes (never taken from the
/// client's name or header): documents and images a recruiting conversation needs.
pub const DEFAULT_ATTACHMENT_TYPES: &str = "application/pdf,image/png,image/jpeg,image/gif,image/webp,text/plain,\
application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
application/vnd.oasis.opendocument.text,application/msword,application/rtf";

#[derive(Args, Clone, Debug)]
pub struct AttachmentConfig {
    /// Largest attachment accepted, in bytes (413 above it; nothing of it is kept).
    #[arg(long, env = "PARLEY_MAX_ATTACHMENT_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_attachment_bytes: u64,

    /// Content types accepted for attachments, comma-separated, as detected from the file's
    /// bytes (`text/plain` for UTF-8 text). Anything else is refused with 415.
    #[arg(long, env = "PARLEY_ATTACHMENT_TYPES", value_delimiter = ',', default_value = DEFAULT_ATTACHMENT_TYPES)]
    pub attachment_types: Vec<String>,

    /// How long an upload that no message references is kept before it is deleted. A message
    /// must reference an upload within this time.
    #[arg(long, env = "PARLEY_ATTACHMENT_ORPHAN_TTL", value_parser = parse_duration, default_value = "24h")]
    pub attachment_orphan_ttl: Duration,
}
