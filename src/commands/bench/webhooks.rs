//! Webhooks signed before the measured window. The generator's work per message is then
//! one request, as the baseline's is one publish: building, serializing and signing each
//! body while the hub runs took CPU from the hub it measures (2 cores here).

use axum::body::Bytes;
use jiff::Timestamp;
use transload_connectors::webhook::WebhookSecret;
use uuid::Uuid;

use super::Plan;

/// One webhook, signed for its scheduled send.
#[derive(Debug)]
pub(crate) struct SignedWebhook {
    id: String,
    timestamp: String,
    signature: String,
    body: Bytes,
}

impl SignedWebhook {
    /// `body` signed with `secret`, stamped `at` (its `webhook-timestamp`).
    fn new(secret: &WebhookSecret, body: Vec<u8>, at: Timestamp) -> Self {
        let id = format!("bench_{}", Uuid::now_v7().simple());
        let seconds = at.as_second();
        let signature = secret.sign(&id, seconds, &body);
        Self {
            id,
            timestamp: seconds.to_string(),
            signature,
            body: Bytes::from(body),
        }
    }

    /// The POST of this webhook to `url`.
    pub(crate) fn post(
        self,
        client: &reqwest::Client,
        url: &str,
        content_type: &'static str,
    ) -> reqwest::RequestBuilder {
        client
            .post(url)
            .header("content-type", content_type)
            .header("webhook-id", self.id)
            .header("webhook-timestamp", self.timestamp)
            .header("webhook-signature", self.signature)
            .body(self.body)
    }
}

/// The plan's messages (`body(index)`), each signed and stamped with the time it is due
/// if the run starts now.
pub(crate) fn sign_all(
    secret: &WebhookSecret,
    plan: Plan,
    body: impl Fn(u64) -> Vec<u8>,
) -> Vec<SignedWebhook> {
    let start = Timestamp::now();
    (0..plan.total)
        .map(|index| {
            let at = start.checked_add(plan.due(index)).unwrap_or(start);
            SignedWebhook::new(secret, body(index), at)
        })
        .collect()
}
