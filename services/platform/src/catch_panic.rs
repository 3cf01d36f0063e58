//! A panic in one RPC handler fails that call only: it is answered INTERNAL (reason
//! INTERNAL, opaque message) and logged as one event in the call's span, with its trace id.
//! Without this layer the panic unwinds into hyper's connection task, which drops every call
//! multiplexed on the same HTTP/2 connection (clients see CANCELLED).
use crate::panic::{Caught, PanicReport};
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::Code;

#[derive(Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> tower::Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

#[derive(Clone)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<Request<B>> for CatchPanic<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>>,
    RB: Default,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let path = req.uri().path().to_owned();
        match crate::panic::catch(|| self.inner.call(req)) {
            Ok(inner) => CatchPanicFuture::Running {
                inner: Caught::new(inner),
                path,
            },
            Err(report) => CatchPanicFuture::Panicked {
                report: Some(report),
                path,
            },
        }
    }
}

pin_project_lite::pin_project! {
    #[project = CatchProj]
    pub enum CatchPanicFuture<F> {
        Running { #[pin] inner: Caught<F>, path: String },
        Panicked { report: Option<PanicReport>, path: String },
    }
}

fn internal<RB: Default>(report: &PanicReport, path: &str) -> Response<RB> {
    crate::panic::log(report, "rpc handler panicked");
    let service = path
        .trim_start_matches('/')
        .split_once('/')
        .map_or(path, |(s, _)| s);
    crate::gate::status_response(
        Code::Internal,
        "INTERNAL",
        "internal error".to_owned(),
        service,
    )
}

impl<F, RB, E> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    RB: Default,
{
    type Output = Result<Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CatchProj::Running { inner, path } => match std::task::ready!(inner.poll(cx)) {
                Ok(out) => Poll::Ready(out),
                Err(report) => Poll::Ready(Ok(internal(&report, path))),
            },
            CatchProj::Panicked { report, path } => {
                let report = report.take().unwrap_or_default();
                Poll::Ready(Ok(internal(&report, path)))
            }
        }
    }
}
