//! Test harness: real services, the real server on a free port, typed helpers.

pub mod app;
pub mod client;
pub mod cluster;
pub mod env;
pub mod raw;
pub mod scenario;
pub mod ws;

pub use app::TestApp;
pub use env::TestEnv;
