//! Integration tests: one binary (one link), each test in its own process under nextest, each
//! with its own nats-server and PostgreSQL database.

mod harness;

mod event_log;
mod nats_accounts;
mod replay;
mod replay_follow;
mod startup;
