//! SIGTERM/SIGINT as a value many places can wait for: once the runner installs its
//! handlers the default "terminate" action is gone, so every long step must race
//! against [`Shutdown::wait`] and clean up (abort the upload, stop pg_dump) itself.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::error::{Error, Result};

/// A handle that resolves once SIGTERM or SIGINT arrived.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<Option<&'static str>>,
}

impl Shutdown {
    /// Installs the handlers (needs a running tokio runtime).
    pub fn install() -> Result<Self> {
        let install = |kind| {
            signal(kind).map_err(|e| Error::Internal(format!("installing signal handler: {e}")))
        };
        let mut term = install(SignalKind::terminate())?;
        let mut int = install(SignalKind::interrupt())?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::warn!(signal = name, "stopping");
            let _ = tx.send(Some(name));
            // Keep the handlers installed (a second signal must not kill us mid-cleanup).
            std::future::pending::<()>().await;
        });
        Ok(Self { rx })
    }

    /// A handle no signal ever reaches (tests; callers that do not stop).
    pub fn never() -> Self {
        let (_tx, rx) = watch::channel(None);
        Self { rx }
    }

    /// The signal that arrived, if one did (without waiting).
    pub fn signalled(&self) -> Option<&'static str> {
        *self.rx.borrow()
    }

    /// Waits for a signal and returns its name.
    pub async fn wait(&mut self) -> &'static str {
        loop {
            if let Some(name) = *self.rx.borrow_and_update() {
                return name;
            }
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}
