//! Containment of bugs: a panic fails only the call (or the run) it happened in, and a
//! long-lived task that panics is started again, so one bad call never fails another.
use crm_platform::Error;
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

/// Runs `f`, catching a panic in it: `Err` is the panic's message (logged as `what`).
pub(super) async fn caught<T>(what: &'static str, f: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(f).catch_unwind().await.map_err(|panic| {
        let message = panic_message(panic.as_ref());
        tracing::error!(panic = %message, "{what} panicked");
        message
    })
}

/// Runs `f`; a panic in it becomes an INTERNAL error (logged with its message) instead of
/// unwinding into the caller, so it fails only what `f` was doing.
pub(super) async fn guarded<T>(
    what: &'static str,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    caught(what, f).await.unwrap_or_else(|message| {
        Err(Error::internal(anyhow::anyhow!(
            "{what} panicked: {message}"
        )))
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic".to_owned())
}

/// First wait before a task that panicked is started again; doubles up to a second.
const RESTART_BACKOFF: Duration = Duration::from_millis(10);

/// Runs the task `start` makes in a task of its own and starts it again whenever it panics
/// (logged, with a short growing backoff), until it returns.
pub(super) async fn supervise<F, Fut>(what: &'static str, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = RESTART_BACKOFF;
    loop {
        match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                let message = panic_message(e.into_panic().as_ref());
                tracing::error!(panic = %message, "{what} panicked; restarting it");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_platform::ErrorCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn guarded_turns_a_panic_into_an_internal_error() {
        let err = guarded("test", async {
            if uuid::Uuid::new_v4().is_max() {
                return Ok(());
            }
            panic!("boom")
        })
        .await
        .expect_err("panicked");
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(format!("{:?}", err.source).contains("boom"), "{err:?}");
        assert_eq!(
            guarded("test", async { Ok::<_, Error>(5) }).await.ok(),
            Some(5)
        );
    }

    #[tokio::test]
    async fn supervise_restarts_a_task_that_panics() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        supervise("test task", move || {
            let runs = counted.clone();
            async move {
                assert!(runs.fetch_add(1, Ordering::SeqCst) >= 2, "panics twice");
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
