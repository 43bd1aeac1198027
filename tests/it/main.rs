//! Integration tests: one binary (one link), each test in its own process under nextest, each
//! with its own nats-server and PostgreSQL database.

mod harness;

mod api_attachments;
mod api_conversations;
mod api_edits;
mod api_errors;
mod api_export;
mod api_messages;
mod api_reactions;
mod api_search;
mod api_users;

mod auth;
mod erase;
mod event_log;
mod projections;
mod projector_crash;
mod startup;
mod unread_property;
