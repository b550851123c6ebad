//! Authentication of every call (a tower layer) and the one way a handler learns its
//! caller: [`principal`], which fails closed.
//!
//! The layer puts the caller's [`Principal`] into the request's extensions; every handler
//! takes it from there and hands it to the scheduler explicitly. A call that reaches a
//! handler without one (a service mounted without this layer) is UNAUTHENTICATED, never
//! an anonymous administrator.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::codegen::http;

use crate::auth::{self, Access, Principal};

/// The tokens in force: replaced whole when the configuration file is read again (SIGHUP),
/// so a revoked token stops working for new calls and ends the watches that used it.
#[derive(Debug, Clone, Default)]
pub struct Tokens(Arc<std::sync::RwLock<Arc<Access>>>);

impl Tokens {
    /// These tokens.
    pub fn new(access: Access) -> Tokens {
        Tokens(Arc::new(std::sync::RwLock::new(Arc::new(access))))
    }

    /// The tokens now.
    pub fn current(&self) -> Arc<Access> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `access` in force for every call from now on.
    pub fn replace(&self, access: Access) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(access);
    }

    /// Whether `token` still authenticates as `who` (for streams that outlive a call).
    pub fn still_valid(&self, token: &str, who: &Principal) -> bool {
        let access = self.current();
        !access.enabled() || access.authenticate(token).is_some_and(|p| *p == *who)
    }
}

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .or_else(|| {
            headers
                .get("authorization")?
                .to_str()
                .ok()?
                .strip_prefix("bearer ")
        })
        .map(str::trim)
}

/// Authenticates each call from its `authorization: Bearer …` header and records its
/// principal for the handler. Health and reflection stay open, so load balancers and
/// tools can reach them; they read no record.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    tokens: Tokens,
}

impl AuthLayer {
    /// With these tokens (none: access control off, every caller is an admin).
    pub fn new(tokens: Tokens) -> AuthLayer {
        AuthLayer { tokens }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

/// See [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    tokens: Tokens,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The principal of a call, `None` for the open services (health, reflection).
fn principal_for<B>(
    access: &Access,
    req: &http::Request<B>,
) -> Result<Option<Arc<Principal>>, Status> {
    let path = req.uri().path();
    if !access.enabled() {
        return Ok(Some(auth::anonymous()));
    }
    // Calendar subscription feeds: the secret in the path is the capability (see
    // `grpc::ics`), and calendar apps send no bearer token.
    if path.starts_with("/grpc.health.")
        || path.starts_with("/grpc.reflection.")
        || path.starts_with("/ics/")
    {
        return Ok(None);
    }
    if req.headers().get("authorization").is_none() {
        return Err(Status::unauthenticated(
            "this server requires a bearer token (authorization: Bearer …)",
        ));
    }
    let token = bearer(req.headers()).ok_or_else(|| {
        Status::unauthenticated("the authorization header must be \"Bearer <token>\"")
    })?;
    access
        .authenticate(token)
        .map(Some)
        .ok_or_else(|| Status::unauthenticated("the bearer token is not valid"))
}

/// The caller of a request, as the auth layer recorded it; UNAUTHENTICATED without one.
pub fn principal<T>(req: &tonic::Request<T>) -> Result<Arc<Principal>, Status> {
    req.extensions()
        .get::<Arc<Principal>>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("this call carries no authenticated caller"))
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        match principal_for(&self.tokens.current(), &req) {
            Err(status) => {
                tracing::info!(path = req.uri().path(), "refused: {}", status.message());
                Box::pin(async move { Ok(status.into_http()) })
            }
            Ok(principal) => {
                if let Some(p) = principal {
                    req.extensions_mut().insert(p);
                }
                Box::pin(self.inner.call(req))
            }
        }
    }
}
