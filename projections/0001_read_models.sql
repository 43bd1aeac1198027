-- The read models of Parley. They are derived from PARLEY_EVENTS only, by the projector
-- (src/projections/), and can always be thrown away and rebuilt (`parley projections
-- rebuild`). Every column is written only from events, never from the clock, so a rebuild
-- reproduces them row for row. Each column's comment names the events that write it.
--
-- The tables live in the schema named by the connection's search_path (`parley` in
-- service); a rebuild creates them in a fresh schema and swaps it in.

CREATE TABLE projector_checkpoints (
    projection TEXT NOT NULL,
    partition INT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (projection, partition)
);
COMMENT ON TABLE projector_checkpoints IS 'Where each projection partition is in the log; written in the same transaction as the rows it covers.';
COMMENT ON COLUMN projector_checkpoints.last_seq IS 'Every event: the stream sequence of the last event applied (or dead-lettered).';

CREATE TABLE dead_letters (
    projection TEXT NOT NULL,
    seq BIGINT NOT NULL,
    subject TEXT NOT NULL,
    event_type TEXT,
    reason TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, seq)
);
COMMENT ON TABLE dead_letters IS 'Events a projection could not apply (undecodable, or violating an invariant), with the reason. Later events are still applied.';
COMMENT ON COLUMN dead_letters.recorded_at IS 'When the projector gave up on the event (operational; the only column not derived from the event).';

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    name TEXT,
    role TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_seq BIGINT NOT NULL
);
COMMENT ON TABLE users IS 'Profiles set through user_profile_updated. A user without a row has no profile yet.';
COMMENT ON COLUMN users.name IS 'user_profile_updated (when it names one).';
COMMENT ON COLUMN users.role IS 'user_profile_updated (when it names one).';
COMMENT ON COLUMN users.updated_at IS 'user_profile_updated: when it occurred.';
COMMENT ON COLUMN users.updated_seq IS 'user_profile_updated: its stream sequence.';

CREATE TABLE conversations (
    conversation_id UUID PRIMARY KEY,
    title TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    application_id TEXT,
    job_id TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    last_message_id UUID,
    activity_seq BIGINT NOT NULL,
    activity_at TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN conversations.conversation_id IS 'conversation_created (the subject''s conversation id).';
COMMENT ON COLUMN conversations.title IS 'conversation_created.';
COMMENT ON COLUMN conversations.kind IS 'conversation_created.';
COMMENT ON COLUMN conversations.application_id IS 'conversation_created.';
COMMENT ON COLUMN conversations.job_id IS 'conversation_created.';
COMMENT ON COLUMN conversations.created_by IS 'conversation_created.';
COMMENT ON COLUMN conversations.created_at IS 'conversation_created: when it occurred.';
COMMENT ON COLUMN conversations.created_seq IS 'conversation_created: its stream sequence.';
COMMENT ON COLUMN conversations.last_seq IS 'Every conversation event: the sequence of the latest.';
COMMENT ON COLUMN conversations.last_message_id IS 'message_sent, application_status_received: the newest message.';
COMMENT ON COLUMN conversations.activity_seq IS 'conversation_created, message_sent, application_status_received: orders conversation lists, most recent first.';
COMMENT ON COLUMN conversations.activity_at IS 'conversation_created, message_sent, application_status_received: when that happened.';
CREATE INDEX conversations_by_application ON conversations (application_id) WHERE application_id IS NOT NULL;

CREATE TABLE participants (
    conversation_id UUID NOT NULL REFERENCES conversations,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    joined_seq BIGINT NOT NULL,
    left_at TIMESTAMPTZ,
    left_seq BIGINT,
    last_read_seq BIGINT NOT NULL DEFAULT 0,
    last_delivered_seq BIGINT NOT NULL DEFAULT 0,
    unread_count INT NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    PRIMARY KEY (conversation_id, user_id)
);
COMMENT ON COLUMN participants.role IS 'conversation_created, participant_added.';
COMMENT ON COLUMN participants.joined_at IS 'conversation_created, participant_added: when it occurred.';
COMMENT ON COLUMN participants.joined_seq IS 'conversation_created, participant_added: its sequence. Messages before it never count as unread.';
COMMENT ON COLUMN participants.left_at IS 'participant_removed; cleared by participant_added. NULL while taking part.';
COMMENT ON COLUMN participants.left_seq IS 'participant_removed; cleared by participant_added.';
COMMENT ON COLUMN participants.last_read_seq IS 'messages_read: the read marker. Never moves backwards.';
COMMENT ON COLUMN participants.last_delivered_seq IS 'message_delivered, messages_read: the delivery marker. Never moves backwards.';
COMMENT ON COLUMN participants.unread_count IS 'message_sent, application_status_received, message_deleted, messages_read, participant_added, participant_removed: messages after both markers (read, joined), not deleted, not sent by this user; 0 while not taking part.';
-- Conversation lists and unread totals of one user: one index-only range.
CREATE INDEX participants_active_by_user ON participants (user_id) INCLUDE (conversation_id, unread_count)
    WHERE left_seq IS NULL;

CREATE TABLE messages (
    message_id UUID PRIMARY KEY,
    conversation_id UUID NOT NULL REFERENCES conversations,
    seq BIGINT NOT NULL,
    sender_id TEXT,
    sender_type TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'file', 'system')),
    content TEXT NOT NULL,
    reply_to UUID,
    reply_preview TEXT,
    attachments JSONB NOT NULL DEFAULT '[]',
    system JSONB,
    client_msg_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    edited_at TIMESTAMPTZ,
    deleted BOOLEAN NOT NULL DEFAULT false,
    deleted_at TIMESTAMPTZ,
    search TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED
);
COMMENT ON COLUMN messages.message_id IS 'message_sent, application_status_received.';
COMMENT ON COLUMN messages.seq IS 'message_sent, application_status_received: the stream sequence, the history cursor.';
COMMENT ON COLUMN messages.sender_id IS 'message_sent. NULL for system messages (application_status_received).';
COMMENT ON COLUMN messages.sender_type IS 'message_sent: the sender''s role in the conversation; ''system'' for application_status_received.';
COMMENT ON COLUMN messages.kind IS 'message_sent (text, file); application_status_received (system).';
COMMENT ON COLUMN messages.content IS 'message_sent, message_edited, application_status_received; emptied by message_deleted.';
COMMENT ON COLUMN messages.reply_to IS 'message_sent.';
COMMENT ON COLUMN messages.reply_preview IS 'message_sent; refreshed by message_edited and cleared by message_deleted of the replied-to message.';
COMMENT ON COLUMN messages.attachments IS 'message_sent: [{id, name, content_type, size}].';
COMMENT ON COLUMN messages.system IS 'application_status_received: the structured ATS update.';
COMMENT ON COLUMN messages.client_msg_id IS 'message_sent: the sender''s idempotency key.';
COMMENT ON COLUMN messages.created_at IS 'message_sent, application_status_received: when it occurred.';
COMMENT ON COLUMN messages.edited_at IS 'message_edited: when it occurred.';
COMMENT ON COLUMN messages.deleted IS 'message_deleted.';
COMMENT ON COLUMN messages.deleted_at IS 'message_deleted: when it occurred.';
COMMENT ON COLUMN messages.search IS 'Derived from content: what full-text search matches. Empty once deleted.';
-- History by conversation and seq, both directions.
CREATE UNIQUE INDEX messages_by_conversation ON messages (conversation_id, seq);
CREATE UNIQUE INDEX messages_client_msg_id ON messages (conversation_id, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX messages_by_reply_to ON messages (reply_to) WHERE reply_to IS NOT NULL;
CREATE INDEX messages_search ON messages USING GIN (search);

CREATE TABLE reactions (
    message_id UUID NOT NULL REFERENCES messages,
    user_id TEXT NOT NULL,
    emoji TEXT NOT NULL,
    conversation_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
COMMENT ON TABLE reactions IS 'reaction_added inserts, reaction_removed and message_deleted delete.';
COMMENT ON COLUMN reactions.seq IS 'reaction_added: its sequence (orders the users of an emoji).';
