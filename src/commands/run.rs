//! `transload run`: the hub.

use std::path::Path;

use anyhow::Context;
use tokio::net::TcpListener;

use transload::config::{BusKind, Config, StoreKind};
use transload::http::{AppState, router};

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
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let listen = listen_override.unwrap_or(config.http.listen);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    let state = AppState {
        bus: match config.bus {
            BusKind::Embedded => "embedded",
            BusKind::Amqp => "amqp",
        },
        store: match config.store {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        },
    };
    tracing::info!(
        config = %config.path.display(),
        bus = state.bus,
        store = state.store,
        data_dir = %config.data_dir.display(),
        amqp = config.amqp.as_ref().map(|amqp| without_credentials(&amqp.url)),
        postgres = config.postgres.as_ref().map(|pg| without_credentials(&pg.url)),
        "transload hub starting"
    );
    tracing::warn!(
        "the pipeline stages (intake, translate, decide, deliver) are not built yet; only /health and /ready are served"
    );
    // Printed on stdout, not logged, so scripts and tests can find the bound port.
    println!("listening on http://{address}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("HTTP server failed")?;
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

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown requested");
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
