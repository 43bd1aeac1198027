-- A message as the API shows it: the row with its reactions gathered as
-- {"emoji": ["user", ...]} (users in the order they reacted). Derived only from the tables
-- above, so it needs no projector of its own.
CREATE VIEW message_views AS
SELECT m.message_id, m.conversation_id, m.seq, m.sender_id, m.sender_type, m.kind, m.content,
       m.reply_to, m.reply_preview, m.attachments, m.system, m.client_msg_id, m.created_at,
       m.edited_at, m.deleted,
       COALESCE((SELECT jsonb_object_agg(g.emoji, g.users)
                 FROM (SELECT r.emoji, jsonb_agg(r.user_id ORDER BY r.seq) AS users
                       FROM reactions r WHERE r.message_id = m.message_id GROUP BY r.emoji) g),
                '{}'::jsonb) AS reactions
FROM messages m;
COMMENT ON VIEW message_views IS 'messages with their reactions, in the shape of the API''s Message.';
