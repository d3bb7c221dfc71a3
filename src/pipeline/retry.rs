//! When to try a failed message again, and when to give up on it.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// Exponential backoff with jitter and a cap, then the dead-letter queue.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay before the second attempt.
    pub first_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Growth of the delay per attempt.
    pub factor: f32,
    /// Attempts in all, the first included; after the last, the message is dead-lettered.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(600),
            factor: 2.0,
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` after attempt `attempt` (from 1) failed
    /// transiently, or `None` when the attempts are used up.
    #[must_use]
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let index = usize::try_from(attempt.saturating_sub(1)).ok()?;
        ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_factor(self.factor)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap_then_stop() {
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            factor: 2.0,
            max_attempts: 6,
        };
        let first = policy.delay_after(1).unwrap();
        assert!(
            first >= Duration::from_millis(100) && first <= Duration::from_millis(200),
            "{first:?}"
        );
        let third = policy.delay_after(3).unwrap();
        assert!(
            third >= Duration::from_millis(400) && third <= Duration::from_millis(800),
            "{third:?}"
        );
        for attempt in 4..6 {
            let delay = policy.delay_after(attempt).unwrap();
            assert!(
                delay <= Duration::from_millis(2000),
                "capped (jitter adds at most the base): {delay:?}"
            );
        }
        assert_eq!(policy.delay_after(6), None, "attempts used up: dead-letter");
    }
}
