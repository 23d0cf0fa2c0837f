//! Work that runs on its own task: awaited for its result, watched for progress, cancelled on
//! request or when dropped. Downloads and ingests are handed out as such handles.

use std::fmt;
use std::future::IntoFuture;
use std::pin::Pin;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::error::{Error, Result};

/// Work under way, producing a `T` and reporting progress `P`. Await it for the result; dropping it
/// cancels the work.
pub struct Handle<T, P> {
    task: JoinHandle<Result<T>>,
    progress: watch::Receiver<P>,
    cancel: CancellationToken,
    guard: DropGuard,
}

impl<T: Send + 'static, P> Handle<T, P> {
    /// Spawns `work` on the current Tokio runtime. `cancel` is the token the work itself watches, so
    /// that it can clean up before it answers [`Error::Cancelled`].
    pub(crate) fn spawn(
        cancel: CancellationToken,
        progress: watch::Receiver<P>,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Self {
        Self {
            task: tokio::spawn(work),
            progress,
            guard: cancel.clone().drop_guard(),
            cancel,
        }
    }
}

impl<T, P> Handle<T, P> {
    /// Progress, updated as the work advances.
    pub fn progress(&self) -> watch::Receiver<P> {
        self.progress.clone()
    }

    /// Stops the work; awaiting the handle then gives [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl<T, P> fmt::Debug for Handle<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("finished", &self.task.is_finished())
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static, P: Send + Sync + 'static> IntoFuture for Handle<T, P> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let _cancel_if_dropped = self.guard;
            match self.task.await {
                Ok(outcome) => outcome,
                Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                Err(_) => Err(Error::Cancelled),
            }
        })
    }
}
