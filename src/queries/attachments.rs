//! Attachments: whether someone may download one. An attachment is visible through the
//! messages that reference it (`message_attachments`), never through the upload itself.

use sqlx::PgPool;

use crate::domain::{AttachmentId, UserId};

/// Whether a (not deleted) message referencing `attachment` sits in a conversation `user`
/// takes part in now; with `any_conversation` (services), in any conversation.
pub async fn downloadable(
    db: &PgPool,
    attachment: &AttachmentId,
    user: &UserId,
    any_conversation: bool,
) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM message_attachments r
               WHERE r.attachment_id = $1
                 AND ($3 OR EXISTS (SELECT 1 FROM participants p
                                    WHERE p.conversation_id = r.conversation_id AND p.user_id = $2
                                      AND p.left_seq IS NULL))) AS "found!""#,
        attachment.0,
        user.as_str(),
        any_conversation,
    )
    .fetch_one(db)
    .await?;
    Ok(found)
}
