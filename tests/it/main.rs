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

mod ats;
mod auth;
mod erase;
mod event_log;
mod hostile_auth;
mod hostile_http;
mod hostile_ws;
mod limits;
mod live_auth;
mod live_chat;
mod live_cluster;
mod live_feed;
mod live_limits;
mod live_resume;
mod live_typing;
mod nats_accounts;
mod partitions;
mod projections;
mod projector_crash;
mod rate_limits;
mod replay;
mod replay_follow;
mod scale;
mod startup;
mod unread_property;
mod web;
