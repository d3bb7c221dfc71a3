//! A circuit breaker for one partner endpoint.
//!
//! Closed: requests pass; `failure_threshold` consecutive failures open it. Open: requests
//! are refused at once, without touching the network, until `cooldown` has passed. Then
//! half-open: exactly one request (the probe) may pass; its success closes the circuit, its
//! failure opens it again for another cooldown. While the probe is in flight every other
//! request is refused.
//!
//! No crate of the field fits (the circuit-breaker crates on crates.io are young
//! single-author releases or built around tower layers; this one is a few dozen lines),
//! so this is a small state machine behind a mutex, with the clock passed in so that
//! the unit tests need no sleeping.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// When the circuit opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitConfig {
    /// Consecutive failures that open the circuit (at least 1).
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through.
    pub cooldown: Duration,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// The state of a circuit, as observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Requests pass.
    Closed,
    /// Requests are refused until the cooldown ends.
    Open,
    /// The cooldown ended: one probe may pass (or is in flight).
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { consecutive_failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_in_flight: bool },
}

/// A circuit breaker, shared by every request to one endpoint (cheap to clone).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: CircuitConfig,
    inner: Arc<Mutex<Inner>>,
}

/// The circuit refused a request: it is open (or half-open with its probe in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// How long until a probe may be let through (zero while a probe is in flight).
    pub retry_in: Duration,
}

/// Leave to send one request; report how it went with [`Permit::success`] or
/// [`Permit::failure`]. A permit dropped without either (the request was cancelled) counts
/// as neither, and frees the probe slot of a half-open circuit.
#[derive(Debug)]
pub struct Permit {
    breaker: CircuitBreaker,
    probe: bool,
    settled: bool,
}

impl CircuitBreaker {
    /// A closed circuit.
    #[must_use]
    pub fn new(config: CircuitConfig) -> Self {
        Self {
            config: CircuitConfig {
                failure_threshold: config.failure_threshold.max(1),
                cooldown: config.cooldown,
            },
            inner: Arc::new(Mutex::new(Inner::Closed {
                consecutive_failures: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is a plain value that no panic can leave half-written.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state at `now`.
    #[must_use]
    pub fn state_at(&self, now: Instant) -> CircuitState {
        match *self.lock() {
            Inner::Closed { .. } => CircuitState::Closed,
            Inner::Open { until } if now < until => CircuitState::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// The state now.
    #[must_use]
    pub fn state(&self) -> CircuitState {
        self.state_at(Instant::now())
    }

    /// Asks to send one request at `now`.
    ///
    /// # Errors
    /// [`Refused`] while the circuit is open, or half-open with its probe in flight.
    pub fn acquire_at(&self, now: Instant) -> Result<Permit, Refused> {
        let mut inner = self.lock();
        let probe = match *inner {
            Inner::Closed { .. } => false,
            Inner::Open { until } if now < until => {
                return Err(Refused {
                    retry_in: until.saturating_duration_since(now),
                });
            }
            Inner::Open { .. }
            | Inner::HalfOpen {
                probe_in_flight: false,
            } => {
                *inner = Inner::HalfOpen {
                    probe_in_flight: true,
                };
                true
            }
            Inner::HalfOpen {
                probe_in_flight: true,
            } => {
                return Err(Refused {
                    retry_in: Duration::ZERO,
                });
            }
        };
        drop(inner);
        Ok(Permit {
            breaker: self.clone(),
            probe,
            settled: false,
        })
    }

    /// Asks to send one request now.
    ///
    /// # Errors
    /// See [`CircuitBreaker::acquire_at`].
    pub fn acquire(&self) -> Result<Permit, Refused> {
        self.acquire_at(Instant::now())
    }

    fn on_success(&self) {
        *self.lock() = Inner::Closed {
            consecutive_failures: 0,
        };
    }

    fn on_failure(&self, probe: bool, now: Instant) {
        let mut inner = self.lock();
        let open = Inner::Open {
            until: now + self.config.cooldown,
        };
        match *inner {
            Inner::Closed {
                consecutive_failures,
            } => {
                let failures = consecutive_failures.saturating_add(1);
                *inner = if failures >= self.config.failure_threshold {
                    tracing::warn!(failures, "circuit opens");
                    open
                } else {
                    Inner::Closed {
                        consecutive_failures: failures,
                    }
                };
            }
            Inner::HalfOpen { .. } if probe => {
                tracing::warn!("circuit probe failed; circuit opens again");
                *inner = open;
            }
            // A request let through before the circuit opened failed late: the circuit
            // is already open or probing, that changes nothing.
            Inner::HalfOpen { .. } | Inner::Open { .. } => {}
        }
    }

    fn on_abandon(&self, probe: bool) {
        let mut inner = self.lock();
        if probe && matches!(*inner, Inner::HalfOpen { .. }) {
            *inner = Inner::HalfOpen {
                probe_in_flight: false,
            };
        }
    }
}

impl Permit {
    /// Whether this request is the probe of a half-open circuit.
    #[must_use]
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The request went through (the partner answered): the circuit closes.
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.on_success();
    }

    /// The request failed in a way that says the partner is unwell (timeout, connection
    /// refused, 5xx) at `now`.
    pub fn failure_at(mut self, now: Instant) {
        self.settled = true;
        self.breaker.on_failure(self.probe, now);
    }

    /// The request failed now; see [`Permit::failure_at`].
    pub fn failure(self) {
        self.failure_at(Instant::now());
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.on_abandon(self.probe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> CircuitBreaker {
        CircuitBreaker::new(CircuitConfig {
            failure_threshold: threshold,
            cooldown: Duration::from_secs(10),
        })
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker(3);
        let t = Instant::now();
        b.acquire_at(t).unwrap().failure_at(t);
        b.acquire_at(t).unwrap().failure_at(t);
        b.acquire_at(t).unwrap().success();
        b.acquire_at(t).unwrap().failure_at(t);
        b.acquire_at(t).unwrap().failure_at(t);
        assert_eq!(
            b.state_at(t),
            CircuitState::Closed,
            "a success resets the count"
        );
        b.acquire_at(t).unwrap().failure_at(t);
        assert_eq!(b.state_at(t), CircuitState::Open);
        let refused = b.acquire_at(t + Duration::from_secs(4)).unwrap_err();
        assert_eq!(refused.retry_in, Duration::from_secs(6));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_on_success() {
        let b = breaker(1);
        let t = Instant::now();
        b.acquire_at(t).unwrap().failure_at(t);
        let later = t + Duration::from_secs(10);
        assert_eq!(b.state_at(later), CircuitState::HalfOpen);
        let probe = b.acquire_at(later).unwrap();
        assert!(probe.is_probe());
        assert_eq!(
            b.acquire_at(later).unwrap_err().retry_in,
            Duration::ZERO,
            "a second request while the probe is out is refused"
        );
        probe.success();
        assert_eq!(b.state_at(later), CircuitState::Closed);
        assert!(!b.acquire_at(later).unwrap().is_probe());
    }

    #[test]
    fn a_failed_probe_opens_for_another_cooldown() {
        let b = breaker(2);
        let t = Instant::now();
        b.acquire_at(t).unwrap().failure_at(t);
        b.acquire_at(t).unwrap().failure_at(t);
        let later = t + Duration::from_secs(11);
        b.acquire_at(later).unwrap().failure_at(later);
        assert_eq!(b.state_at(later), CircuitState::Open);
        assert_eq!(
            b.acquire_at(later + Duration::from_secs(1))
                .unwrap_err()
                .retry_in,
            Duration::from_secs(9)
        );
        let much_later = later + Duration::from_secs(10);
        assert!(b.acquire_at(much_later).unwrap().is_probe());
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot() {
        let b = breaker(1);
        let t = Instant::now();
        b.acquire_at(t).unwrap().failure_at(t);
        let later = t + Duration::from_secs(10);
        drop(b.acquire_at(later).unwrap());
        assert!(b.acquire_at(later).unwrap().is_probe());
    }

    #[test]
    fn a_late_failure_of_a_request_from_before_does_not_reopen_a_probing_circuit() {
        let b = breaker(1);
        let t = Instant::now();
        let early = b.acquire_at(t).unwrap();
        b.acquire_at(t).unwrap().failure_at(t);
        let later = t + Duration::from_secs(10);
        let probe = b.acquire_at(later).unwrap();
        early.failure_at(later);
        assert_eq!(b.state_at(later), CircuitState::HalfOpen);
        probe.success();
        assert_eq!(b.state_at(later), CircuitState::Closed);
    }
}
