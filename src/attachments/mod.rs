//! Attachments: the bytes of uploaded files in the JetStream object store bucket
//! `PARLEY_ATTACHMENTS` (defined in `streams/`), with who uploaded them, their name, sniffed
//! content type, size, SHA-256 and upload time as the object's metadata. The only code that
//! knows the bucket. Who may download what is not decided here but from the
//! `message_attachments` read model (`queries::attachments`); `cleanup` removes uploads no
//! message references.
//!
//! An upload streams into the store as it arrives (never whole in memory): its first bytes
//! decide the content type before anything is stored, the rest goes through a `Metered`
//! reader. The object is stored under its id with `pending` metadata, and its complete
//! metadata (size, SHA-256) is written once the last byte is in; only complete objects can be
//! referenced or downloaded. A failed or oversized upload is deleted at once.

pub mod cleanup;
pub mod reader;
pub mod sniff;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::object_store::{
    self, GetErrorKind, InfoErrorKind, Object, ObjectInfo, ObjectStore,
};
use async_nats::jetstream::{self};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::config::AttachmentConfig;
use crate::domain::{AttachmentId, UserId};
use reader::{Ended, Metered};

/// The bucket (its stream is `OBJ_PARLEY_ATTACHMENTS`).
pub use crate::event_log::subjects::ATTACHMENTS_BUCKET as BUCKET;

/// Metadata keys of a stored attachment. Persisted: never rename them.
mod key {
    pub const UPLOADER: &str = "parley-uploader";
    pub const NAME: &str = "parley-name";
    pub const CONTENT_TYPE: &str = "parley-content-type";
    pub const UPLOADED_AT: &str = "parley-uploaded-at";
    /// Present only once the upload is complete.
    pub const SIZE: &str = "parley-size";
    /// Present only once the upload is complete: lowercase hex.
    pub const SHA256: &str = "parley-sha256";
}

/// A complete upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub uploader: UserId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// No such upload, or one that never completed or was deleted.
    #[error("no such attachment")]
    NotFound,
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("files of type {0} are not accepted")]
    Unsupported(String),
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// NATS did not answer; nothing usable was stored.
    #[error("the attachment store is unavailable: {0}")]
    Unavailable(String),
}

/// Handle to the attachment store. Cheap to clone.
#[derive(Clone)]
pub struct Attachments {
    store: ObjectStore,
    js: jetstream::Context,
    max_bytes: u64,
    types: Arc<Vec<String>>,
    orphan_ttl: Duration,
}

impl Attachments {
    /// Opens the bucket (created at start-up from `streams/`).
    pub async fn connect(
        js: &jetstream::Context,
        config: &AttachmentConfig,
    ) -> Result<Self, AttachmentError> {
        let store = js.get_object_store(BUCKET).await.map_err(unavailable)?;
        let types = config.attachment_types.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
        Ok(Self {
            store,
            js: js.clone(),
            max_bytes: config.max_attachment_bytes,
            types: Arc::new(types),
            orphan_ttl: config.attachment_orphan_ttl,
        })
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub fn orphan_ttl(&self) -> Duration {
        self.orphan_ttl
    }

    pub fn accepts(&self, content_type: &str) -> bool {
        self.types.iter().any(|t| t == content_type)
    }

    /// Whether a message may still reference `attachment` at `now`. Uploads stop being
    /// referenceable a margin before the orphan cleanup may delete them, so that a message
    /// validated just before the deadline is in the read models before the cleanup looks.
    pub fn referenceable(&self, attachment: &Attachment, now: DateTime<Utc>) -> bool {
        let margin = (self.orphan_ttl / 10).min(Duration::from_secs(300));
        let window = chrono::Duration::from_std(self.orphan_ttl.saturating_sub(margin))
            .unwrap_or(chrono::Duration::MAX);
        now.signed_duration_since(attachment.uploaded_at) < window
    }

    /// Streams `body` into the store as `uploader`'s file `name`.
    pub async fn upload<R: AsyncRead + Unpin + Send>(
        &self,
        uploader: &UserId,
        name: &str,
        mut body: R,
    ) -> Result<Attachment, AttachmentError> {
        let sniff_len =
            usize::try_from(self.max_bytes.saturating_add(1)).unwrap_or(usize::MAX).min(sniff::SNIFF_BYTES);
        let prefix = reader::read_prefix(&mut body, sniff_len)
            .await
            .map_err(|e| AttachmentError::Interrupted(e.to_string()))?;
        if prefix.is_empty() {
            return Err(AttachmentError::Empty);
        }
        if prefix.len() as u64 > self.max_bytes {
            return Err(AttachmentError::TooLarge { limit: self.max_bytes });
        }
        let content_type = sniff::content_type(&prefix, prefix.len() < sniff_len);
        if !self.accepts(content_type) {
            return Err(AttachmentError::Unsupported(content_type.to_owned()));
        }
        let id = AttachmentId::new();
        let uploaded_at = Utc::now();
        let mut metadata = HashMap::from([
            (key::UPLOADER.to_owned(), uploader.to_string()),
            (key::NAME.to_owned(), name.to_owned()),
            (key::CONTENT_TYPE.to_owned(), content_type.to_owned()),
            (key::UPLOADED_AT.to_owned(), crate::event_log::wire::format_time(uploaded_at)),
        ]);
        let pending = object_store::ObjectMetadata {
            name: id.to_string(),
            metadata: metadata.clone(),
            ..Default::default()
        };
        let mut metered = Metered::new(std::io::Cursor::new(prefix).chain(body), self.max_bytes);
        let mut info = self.store.put(pending, &mut metered).await.map_err(unavailable)?;
        match metered.ended() {
            Ended::Complete => {}
            Ended::TooLarge => {
                self.discard(id).await;
                return Err(AttachmentError::TooLarge { limit: self.max_bytes });
            }
            Ended::Failed(e) => {
                let why = e.to_string();
                self.discard(id).await;
                return Err(AttachmentError::Interrupted(why));
            }
        }
        let (size, sha256) = metered.finish();
        metadata.insert(key::SIZE.to_owned(), size.to_string());
        metadata.insert(key::SHA256.to_owned(), sha256.clone());
        info.metadata = metadata;
        if let Err(e) = self.write_info(&info).await {
            self.discard(id).await;
            return Err(e);
        }
        Ok(Attachment {
            id,
            uploader: uploader.clone(),
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            size,
            sha256,
            uploaded_at,
        })
    }

    /// Replaces an object's metadata. async-nats 0.51's `update_metadata` keeps only the name
    /// and description, so this publishes the object's info itself, as ADR-20 specifies:
    /// JSON on `$O.<bucket>.M.<base64url(name)>` with `Nats-Rollup: sub`.
    async fn write_info(&self, info: &ObjectInfo) -> Result<(), AttachmentError> {
        let subject = format!("$O.{BUCKET}.M.{}", URL_SAFE.encode(&info.name));
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Rollup", "sub");
        let payload = serde_json::to_vec(info).map_err(|e| AttachmentError::Unavailable(e.to_string()))?;
        self.js
            .publish_with_headers(subject, headers, payload.into())
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Deletes what a failed upload stored; the orphan cleanup catches what this misses.
    async fn discard(&self, id: AttachmentId) {
        if let Err(e) = self.delete(id).await {
            tracing::warn!(attachment = %id, error = %e, "could not delete a failed upload; the orphan cleanup will");
        }
    }

    /// A complete upload's metadata.
    pub async fn get(&self, id: AttachmentId) -> Result<Attachment, AttachmentError> {
        match self.store.info(id.to_string()).await {
            Ok(info) => complete(&info).ok_or(AttachmentError::NotFound),
            Err(e) if e.kind() == InfoErrorKind::NotFound => Err(AttachmentError::NotFound),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// A complete upload with its bytes, to be read as they arrive.
    pub async fn open(&self, id: AttachmentId) -> Result<(Attachment, Object), AttachmentError> {
        match self.store.get(id.to_string()).await {
            Ok(object) => match complete(object.info()) {
                Some(attachment) => Ok((attachment, object)),
                None => Err(AttachmentError::NotFound),
            },
            Err(e) if e.kind() == GetErrorKind::NotFound => Err(AttachmentError::NotFound),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Deletes an upload: its bytes are purged, a deletion marker stays. Deleting a missing
    /// one is not an error.
    pub async fn delete(&self, id: AttachmentId) -> Result<(), AttachmentError> {
        match self.store.delete(id.to_string()).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == object_store::DeleteErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Every stored upload (complete or not) with when it began. Objects not written by
    /// Parley (without its metadata) are left out, so nothing here ever deletes them.
    pub async fn stored(&self) -> Result<Vec<(AttachmentId, DateTime<Utc>)>, AttachmentError> {
        let list = self.store.list().await.map_err(unavailable)?;
        let infos: Vec<ObjectInfo> = list.try_collect().await.map_err(unavailable)?;
        Ok(infos
            .iter()
            .filter_map(|info| {
                let id = AttachmentId::parse(&info.name).ok()?;
                let at = DateTime::parse_from_rfc3339(info.metadata.get(key::UPLOADED_AT)?).ok()?;
                Some((id, at.with_timezone(&Utc)))
            })
            .collect())
    }
}

/// The attachment an object's info describes, `None` unless the upload completed.
fn complete(info: &ObjectInfo) -> Option<Attachment> {
    if info.deleted {
        return None;
    }
    let get = |k: &str| info.metadata.get(k);
    Some(Attachment {
        id: AttachmentId::parse(&info.name).ok()?,
        uploader: UserId::parse(get(key::UPLOADER)?).ok()?,
        name: get(key::NAME)?.clone(),
        content_type: get(key::CONTENT_TYPE)?.clone(),
        size: get(key::SIZE)?.parse().ok()?,
        sha256: get(key::SHA256)?.clone(),
        uploaded_at: DateTime::parse_from_rfc3339(get(key::UPLOADED_AT)?).ok()?.with_timezone(&Utc),
    })
}

fn unavailable(error: impl std::fmt::Display) -> AttachmentError {
    AttachmentError::Unavailable(error.to_string())
}
