//! Mapping lapin's errors and timeouts onto [`BusError`].

use std::future::Future;
use std::time::Duration;

use transload_core::bus::BusError;

/// Classifies a lapin error: a refusal by the broker on a channel (precondition
/// failed, not found, access refused…) is [`BusError::Other`]: trying again will not
/// help; everything else (I/O, closed connection or channel, missing heartbeat,
/// connection-level errors) is [`BusError::Unavailable`].
pub(crate) fn lapin_error(error: &lapin::Error) -> BusError {
    if error.is_amqp_soft_error() {
        BusError::Other(error.to_string())
    } else {
        BusError::Unavailable(error.to_string())
    }
}

/// Awaits a lapin operation for at most `timeout`.
pub(crate) async fn with_timeout<T, F>(
    timeout: Duration,
    what: &'static str,
    operation: F,
) -> Result<T, BusError>
where
    F: Future<Output = lapin::Result<T>>,
{
    match tokio::time::timeout(timeout, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(lapin_error(&error)),
        Err(_) => Err(BusError::Timeout(timeout, what)),
    }
}
