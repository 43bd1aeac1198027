-- Which messages reference which uploaded attachment. Downloads are allowed to participants
-- of a conversation with a (not deleted) message referencing the attachment, and the orphan
-- cleanup keeps every attachment that has a row here. Derived from events only: the bytes
-- and their metadata live in the PARLEY_ATTACHMENTS object store, not here.
CREATE TABLE message_attachments (
    attachment_id UUID NOT NULL,
    message_id UUID NOT NULL REFERENCES messages,
    conversation_id UUID NOT NULL,
    PRIMARY KEY (attachment_id, message_id)
);
COMMENT ON TABLE message_attachments IS 'message_sent inserts one row per attachment it references; message_deleted deletes the rows of its message.';
COMMENT ON COLUMN message_attachments.attachment_id IS 'message_sent: the id of one of its attachments.';
COMMENT ON COLUMN message_attachments.message_id IS 'message_sent: the referencing message.';
COMMENT ON COLUMN message_attachments.conversation_id IS 'message_sent: the conversation of the referencing message.';
-- Deleting a message finds its rows without a scan.
CREATE INDEX message_attachments_by_message ON message_attachments (message_id);
