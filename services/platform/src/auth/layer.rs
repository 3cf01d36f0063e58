//! The server's authentication and authorization step, between the gate and the handlers:
//! identity (bearer token, else mTLS certificate), the method's scope, customer tokens kept to
//! self-service methods, the caller's rate budget; then the [`Principal`] goes into the
//! request's extensions for the handler ([`caller`](crate::auth::caller)). Health and
//! reflection pass untouched.
use crate::auth::policy::Policies;
use crate::auth::rate::{PRUNE_PERIOD, RateLimits};
use crate::auth::settings::{AuthMode, AuthSettings};
use crate::auth::verify::{Problem, Verifier};
use crate::auth::{
    CUSTOMER_TOKEN_NOT_ALLOWED, KEYS_UNAVAILABLE, MISSING_SCOPE, Principal, RATE_LIMITED,
    UNAUTHENTICATED,
};
use crate::jobs::Jobs;
use futures::future::{Either, Ready, ready};
use http::{Request, Response};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt as _};

/// Services every caller may reach: probes and `grpcurl list` need them.
const OPEN_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

static UNCHECKED: LazyLock<Arc<Principal>> = LazyLock::new(|| Arc::new(Principal::unchecked()));

/// Everything the layer decides with, shared by every connection.
pub struct Auth {
    mode: AuthMode,
    verifier: Verifier,
    policies: Policies,
    limits: RateLimits,
}

impl Auth {
    pub fn new(settings: &AuthSettings, policies: Policies) -> anyhow::Result<Self> {
        Ok(Self {
            mode: settings.mode,
            verifier: Verifier::new(settings)?,
            policies,
            limits: RateLimits::new(&settings.rate_limits),
        })
    }

    /// Starts the background work: key refreshes (first load awaited briefly, so a server
    /// that can reach its issuer verifies from the first call) and rate-limit pruning.
    pub async fn start(self: &Arc<Self>, jobs: &mut Jobs) {
        if self.mode == AuthMode::Off {
            tracing::warn!(
                "AUTHENTICATION IS OFF (auth.mode = \"off\"): any process that reaches this port may call every method; use it on a laptop only"
            );
            return;
        }
        for keys in self.verifier.key_refreshers() {
            let _ = tokio::time::timeout(Duration::from_secs(5), keys.load()).await;
            jobs.spawn(keys.refresh_forever());
        }
        if !self.limits.is_unlimited() {
            let me = self.clone();
            jobs.spawn(async move {
                loop {
                    tokio::time::sleep(PRUNE_PERIOD).await;
                    me.limits.prune();
                }
            });
        }
    }

    /// The principal of a call with these `headers`, or the refusal to send instead.
    fn decide<B>(&self, req: &Request<B>, service: &str) -> Result<Arc<Principal>, Refusal> {
        if self.mode == AuthMode::Off {
            return Ok(UNCHECKED.clone());
        }
        // Fail closed: the gate already answered methods the service does not have, and start
        // refused a table without one of its methods.
        let rule = self.policies.get(req.uri().path()).ok_or_else(|| {
            Refusal::new(
                Code::PermissionDenied,
                "NO_POLICY",
                "this method has no authorization rule",
            )
        })?;
        let principal = match req.headers().get(http::header::AUTHORIZATION) {
            Some(value) => {
                let token = value
                    .to_str()
                    .ok()
                    .and_then(|v| {
                        v.strip_prefix("Bearer ")
                            .or_else(|| v.strip_prefix("bearer "))
                    })
                    .map(str::trim);
                let token = token.ok_or_else(|| unauthenticated(Problem::Malformed))?;
                self.verifier.verify(token).map_err(|p| {
                    tracing::info!(service, problem = p.as_str(), "call refused: bad token");
                    unauthenticated(p)
                })?
            }
            None => match crate::tls::peer_identity(req) {
                Some(id) => Arc::new(self.verifier.certificate_principal(id)),
                None => return Err(unauthenticated(Problem::Missing)),
            },
        };
        if !principal.has(rule.scope) {
            tracing::info!(service, method = rule.method, subject = %principal.subject, scope = rule.scope, "call refused: missing scope");
            return Err(Refusal::new(
                Code::PermissionDenied,
                MISSING_SCOPE,
                format!("this call needs the scope {:?}", rule.scope),
            )
            .with("scope", rule.scope));
        }
        if principal.customer.is_some() && !rule.self_service {
            return Err(Refusal::new(
                Code::PermissionDenied,
                CUSTOMER_TOKEN_NOT_ALLOWED,
                "a customer's own token may not call this method",
            ));
        }
        let budget = principal.limits(|| self.limits.of(principal.rate_key()));
        if let Err(wait) = self.limits.check(budget, rule.class) {
            return Err(Refusal::new(
                Code::ResourceExhausted,
                RATE_LIMITED,
                format!(
                    "rate limit of {} calls reached; retry after the delay",
                    rule.class.as_str()
                ),
            )
            .with("class", rule.class.as_str())
            .retry_after(wait));
        }
        Ok(principal)
    }
}

/// A refused call's status.
struct Refusal {
    code: Code,
    reason: &'static str,
    message: String,
    metadata: HashMap<String, String>,
    retry: Option<Duration>,
}

impl Refusal {
    fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            metadata: HashMap::new(),
            retry: None,
        }
    }

    fn with(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_owned(), value.to_owned());
        self
    }

    fn retry_after(mut self, wait: Duration) -> Self {
        self.retry = Some(wait);
        self
    }

    fn into_response<B: Default>(self, service: &str) -> Response<B> {
        let mut details = ErrorDetails::with_error_info(
            self.reason,
            crate::gate::domain_of(service),
            self.metadata,
        );
        if let Some(wait) = self.retry {
            details.set_retry_info(Some(wait));
        }
        let mut resp =
            tonic::Status::with_error_details(self.code, self.message, details).into_http::<B>();
        if self.code == Code::Unauthenticated {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

fn unauthenticated(problem: Problem) -> Refusal {
    let (code, reason, message) = match problem {
        Problem::KeysUnavailable => (
            Code::Unavailable,
            KEYS_UNAVAILABLE,
            "the token issuer's keys are not loaded yet; retry with backoff",
        ),
        Problem::Missing => (
            Code::Unauthenticated,
            UNAUTHENTICATED,
            "this call needs a bearer token (authorization: Bearer <jwt>) or a client certificate",
        ),
        _ => (
            Code::Unauthenticated,
            UNAUTHENTICATED,
            "the bearer token is not valid",
        ),
    };
    Refusal::new(code, reason, message).with("problem", problem.as_str())
}

#[derive(Clone)]
pub struct AuthLayer {
    auth: Arc<Auth>,
}

impl AuthLayer {
    pub fn new(auth: Arc<Auth>) -> Self {
        Self { auth }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Auth>,
}

impl<S, B, RB> tower::Service<Request<B>> for AuthService<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>>,
    RB: Default,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<RB>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        let service = path
            .trim_start_matches('/')
            .split_once('/')
            .map_or(path, |(s, _)| s);
        if OPEN_SERVICES.contains(&service) {
            return Either::Right(self.inner.call(req));
        }
        match self.auth.decide(&req, service) {
            Ok(principal) => {
                req.extensions_mut().insert(principal);
                Either::Right(self.inner.call(req))
            }
            Err(refusal) => {
                let service = service.to_owned();
                Either::Left(ready(Ok(refusal.into_response(&service))))
            }
        }
    }
}

#[cfg(test)]
mod tests;
