//! Panics as log lines, not as dead tasks. The hook (installed by `telemetry::init`) turns any
//! panic into one structured `tracing` event, with the current trace id, instead of the
//! standard plain-text message on stderr. Where a panic is caught ([`Caught`]: per RPC and per
//! background-job run) the hook only records it, and the catcher logs it once with its context
//! (which RPC, which job).
use opentelemetry::trace::TraceContextExt as _;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// What is known about one panic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PanicReport {
    pub message: String,
    /// `file:line:column`, when the hook saw it.
    pub location: String,
    /// Empty unless `RUST_BACKTRACE` asks for one.
    pub backtrace: String,
}

thread_local! {
    /// How many [`Caught`] futures are being polled on this thread.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
    /// The hook's report of the panic being unwound into a [`Caught`].
    static CAUGHT: RefCell<Option<PanicReport>> = const { RefCell::new(None) };
}

/// Installs the panic hook: one `error` event per panic not caught by [`Caught`].
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        let backtrace = std::backtrace::Backtrace::capture();
        let report = PanicReport {
            message,
            location: info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default(),
            backtrace: match backtrace.status() {
                std::backtrace::BacktraceStatus::Captured => backtrace.to_string(),
                _ => String::new(),
            },
        };
        if CATCHING.with(Cell::get) > 0 {
            CAUGHT.with(|c| *c.borrow_mut() = Some(report));
        } else {
            log(&report, "panic");
        }
    }));
}

/// The current span's trace id, if any (for log lines outside the span's own fields).
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let id = span.span_context();
    id.is_valid().then(|| id.trace_id().to_string())
}

/// Logs `report` as one error event in the current span.
pub fn log(report: &PanicReport, what: &'static str) {
    tracing::error!(
        panic.message = %report.message,
        panic.location = %report.location,
        panic.backtrace = %report.backtrace,
        trace_id = current_trace_id().unwrap_or_default(),
        "{what}"
    );
}

/// Runs `f`, turning a panic into `Err(report)`.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, PanicReport> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let out = std::panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
    out.map_err(|payload| {
        CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or_else(|| {
            // No hook installed (tests, libraries): the payload is all there is.
            PanicReport {
                message: payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default(),
                ..Default::default()
            }
        })
    })
}

pin_project_lite::pin_project! {
    /// A future whose panic becomes `Err(report)` instead of unwinding into its task.
    pub struct Caught<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Caught<F> {
    pub fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<F: Future> Future for Caught<F> {
    type Output = Result<F::Output, PanicReport>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match catch(|| inner.poll(cx)) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(report) => Poll::Ready(Err(report)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_future_becomes_an_error_with_its_message() {
        install_hook();
        let out = Caught::new(async {
            tokio::task::yield_now().await;
            if std::hint::black_box(true) {
                panic!("boom {}", 7);
            }
            1
        })
        .await;
        let report = out.expect_err("caught");
        assert_eq!(report.message, "boom 7");
        assert!(report.location.contains("panic.rs"), "{report:?}");
        assert_eq!(Caught::new(async { 2 }).await, Ok(2));
    }
}
