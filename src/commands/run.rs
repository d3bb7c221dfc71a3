//! `transload run`: the hub.

use std::path::Path;

use anyhow::Context;
use tokio::net::TcpListener;

use transload::config::Config;
use transload::hub::Hub;

/// Starts the hub described by the configuration at `config_path` and serves until
/// SIGINT or SIGTERM.
///
/// # Errors
/// When the configuration is invalid, the data directory cannot be created, or the
/// listen address cannot be bound.
pub(crate) async fn run(
    config_path: &Path,
    listen_override: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    tracing::info!(
        config = %config.path.display(),
        bus = ?config.bus,
        store = ?config.store,
        data_dir = %config.data_dir.display(),
        amqp = config.amqp.as_ref().map(|amqp| without_credentials(&amqp.url)),
        postgres = config.postgres.as_ref().map(|pg| without_credentials(&pg.url)),
        "transload hub starting"
    );
    let listen = listen_override.unwrap_or(config.http.listen);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    let hub = Hub::start(&config).await?;
    tracing::info!(
        partners = hub.partners.len(),
        api_keys = config.api_keys.len(),
        max_body_bytes = config.intake.max_body_bytes,
        "HTTP intake on POST /v1/partners/{{partner}}/messages"
    );
    let shutdown = shutdown_signal()?;
    // Printed on stdout, not logged, so scripts and tests can find the bound port.
    println!("listening on http://{address}");
    axum::serve(listener, hub.router.clone())
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server failed")?;
    hub.stop();
    tracing::info!("transload hub stopped");
    Ok(())
}

/// `url` with any `user:password@` removed, for logs.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!(
                "{}{}",
                url.get(..scheme_end + 3).unwrap_or_default(),
                url.get(at + 1..).unwrap_or_default()
            )
        }
        _ => url.to_owned(),
    }
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from now on; the returned future resolves
/// on the first. Installed before the hub announces itself, so an early signal is not
/// lost.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutdown requested");
    })
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_are_removed_from_urls_before_logging() {
        assert_eq!(
            without_credentials("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://127.0.0.1:5672/%2f"
        );
        assert_eq!(
            without_credentials("postgres://127.0.0.1/db"),
            "postgres://127.0.0.1/db"
        );
    }
}
