//! Request rates per user and per client address (GCRA, `governor`), so that one client's
//! flood is refused cheaply instead of slowing everyone else. The per-address limit is a
//! middleware in front of every route but health, readiness and metrics; the per-user limit
//! is checked where a token has been verified (the `Authenticated` extractor, the WebSocket
//! handshake and each client frame), so a forged `sub` cannot spend someone else's quota.
//! Limits are per instance.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::config::LimitsConfig;
use crate::domain::{Role, UserId};

/// Paths a load balancer or scraper calls often; never limited.
const EXEMPT: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Checks between two sweeps of keys whose buckets are full again (they hold no state worth
/// keeping), so the maps do not grow with every address ever seen.
const SWEEP_EVERY: u64 = 10_000;

pub struct RateLimits {
    user: Option<DefaultKeyedRateLimiter<UserId>>,
    address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(rate: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
    Some(DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
}

impl RateLimits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            user: limiter(config.rate_limit_user, config.rate_limit_user_burst),
            address: limiter(config.rate_limit_ip, config.rate_limit_ip_burst),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request or frame of `caller`; `Err` says how long to wait. Service tokens
    /// act for many users (the ATS backend) and are limited only by address.
    pub fn check_user(&self, caller: &Principal) -> Result<(), ApiError> {
        let Some(limiter) = &self.user else { return Ok(()) };
        if caller.role == Role::Service {
            return Ok(());
        }
        self.sweep();
        limiter.check_key(&caller.user_id).map_err(|not_until| {
            metrics::counter!("parley_rate_limited_total", "scope" => "user").increment(1);
            ApiError::RateLimited { retry_after: not_until.wait_time_from(DefaultClock::default().now()) }
        })
    }

    /// Counts one request from `address`.
    pub fn check_address(&self, address: IpAddr) -> Result<(), ApiError> {
        let Some(limiter) = &self.address else { return Ok(()) };
        self.sweep();
        limiter.check_key(&address).map_err(|not_until| {
            metrics::counter!("parley_rate_limited_total", "scope" => "address").increment(1);
            ApiError::RateLimited { retry_after: not_until.wait_time_from(DefaultClock::default().now()) }
        })
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            if let Some(user) = &self.user {
                user.retain_recent();
            }
            if let Some(address) = &self.address {
                address.retain_recent();
            }
        }
    }
}

/// The per-address limit, in front of every route but the exempt ones.
pub async fn by_address(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !EXEMPT.contains(&request.uri().path())
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(limited) = state.limits.check_address(peer.ip())
    {
        return limited.into_response();
    }
    next.run(request).await
}

/// Rounds a wait up to whole seconds for `Retry-After`, never below one.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn principal(user: &str, role: Role) -> Principal {
        Principal {
            user_id: UserId::parse(user).unwrap(),
            role,
            name: None,
            expires_at: Utc::now() + chrono::Duration::hours(1),
        }
    }

    fn config(user: u32, burst: u32) -> LimitsConfig {
        let mut config = crate::config::Config::for_tests(String::new(), String::new(), ".".into()).limits;
        config.rate_limit_user = user;
        config.rate_limit_user_burst = burst;
        config.rate_limit_ip = user;
        config.rate_limit_ip_burst = burst;
        config
    }

    #[test]
    fn a_user_over_the_burst_is_told_when_to_retry_and_others_are_not_affected() {
        let limits = RateLimits::new(&config(1, 3));
        let abe = principal("abe", Role::Applicant);
        for _ in 0..3 {
            limits.check_user(&abe).expect("within the burst");
        }
        let Err(ApiError::RateLimited { retry_after }) = limits.check_user(&abe) else {
            panic!("the fourth request is limited")
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1), "{retry_after:?}");
        limits.check_user(&principal("rita", Role::Recruiter)).expect("another user has their own bucket");
    }

    #[test]
    fn service_tokens_are_not_limited_per_user_and_zero_turns_limits_off() {
        let limits = RateLimits::new(&config(1, 1));
        let ats = principal("ats", Role::Service);
        for _ in 0..10 {
            limits.check_user(&ats).expect("services are limited by address only");
        }
        let off = RateLimits::new(&config(0, 1));
        for _ in 0..10 {
            off.check_user(&principal("abe", Role::Applicant)).expect("off");
            off.check_address(IpAddr::from([127, 0, 0, 1])).expect("off");
        }
    }

    #[test]
    fn addresses_have_their_own_buckets() {
        let limits = RateLimits::new(&config(1, 2));
        let one = IpAddr::from([10, 0, 0, 1]);
        limits.check_address(one).unwrap();
        limits.check_address(one).unwrap();
        assert!(limits.check_address(one).is_err());
        limits.check_address(IpAddr::from([10, 0, 0, 2])).expect("a different address");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
    }
}
