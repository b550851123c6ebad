//! Authentication of every call (a tower layer), and the authorisation helpers handlers
//! use: who is calling, what they may see, what they may change.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::codegen::http;

use crate::auth::{self, Access, CALLER, Caller, Parties, Principal};
use crate::error::Error;
use crate::events::Event;
use crate::proposals::{Party, Proposal};
use crate::scheduler::Scheduler;

/// Authenticates each call from its `authorization: Bearer …` header and runs it as that
/// caller. Health and reflection stay open, so load balancers and tools can reach them.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    access: Arc<Access>,
}

impl AuthLayer {
    /// With the configured tokens (none: access control off, every caller is an admin).
    pub fn new(access: Access) -> AuthLayer {
        AuthLayer {
            access: Arc::new(access),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            access: self.access.clone(),
        }
    }
}

/// See [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    access: Arc<Access>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

fn principal_for<B>(access: &Access, req: &http::Request<B>) -> Result<Arc<Principal>, Status> {
    let path = req.uri().path();
    if !access.enabled() {
        return Ok(auth::anonymous());
    }
    if path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.") {
        return Ok(auth::open_reader());
    }
    let header = req.headers().get("authorization").ok_or_else(|| {
        Status::unauthenticated("this server requires a bearer token (authorization: Bearer …)")
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            Status::unauthenticated("the authorization header must be \"Bearer <token>\"")
        })?;
    access
        .authenticate(token.trim())
        .ok_or_else(|| Status::unauthenticated("the bearer token is not valid"))
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

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match principal_for(&self.access, &req) {
            Err(status) => {
                tracing::info!(path = req.uri().path(), "refused: {}", status.message());
                Box::pin(async move { Ok(status.into_http()) })
            }
            Ok(principal) => {
                let caller = Caller {
                    principal,
                    method: req.uri().path().to_string(),
                };
                Box::pin(CALLER.scope(caller, self.inner.call(req)))
            }
        }
    }
}

/// The caller of the current RPC.
pub fn who() -> Arc<Principal> {
    auth::current()
}

/// PERMISSION_DENIED unless the caller may write at all.
pub fn writer() -> Result<Arc<Principal>, Error> {
    let p = who();
    if p.can_write() {
        Ok(p)
    } else {
        Err(Error::PermissionDenied(format!(
            "token {:?} of office {:?} may only read",
            p.token, p.office
        )))
    }
}

/// PERMISSION_DENIED unless the caller is an administrator.
pub fn admin() -> Result<Arc<Principal>, Error> {
    let p = who();
    if p.is_admin() {
        Ok(p)
    } else {
        Err(Error::PermissionDenied("this needs an ADMIN token".into()))
    }
}

/// PERMISSION_DENIED unless the caller is an admin or an editor of `office`.
pub fn editor_of(office: &str, what: &str) -> Result<(), Error> {
    let p = writer()?;
    if p.is_admin() || (!p.office.is_empty() && p.office.eq_ignore_ascii_case(office.trim())) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} may not change {what}, which belongs to {office:?}",
            p.office
        )))
    }
}

/// The parties of an event (the domain's rule, under one read of the state).
pub fn event_parties(s: &Scheduler, e: &Event) -> Parties {
    s.event_parties(e)
}

/// Whether the caller may see `e`.
pub fn sees_event(s: &Scheduler, e: &Event) -> bool {
    let p = who();
    p.is_admin() || auth::can_see(&p, e.visibility, &event_parties(s, e))
}

/// `e`, or NOT_FOUND if the caller may not see it.
pub fn visible_event(s: &Scheduler, e: Arc<Event>, field: &str) -> Result<Arc<Event>, Error> {
    if sees_event(s, &e) {
        Ok(e)
    } else {
        Err(Error::not_found("event", e.id.clone(), field))
    }
}

/// PERMISSION_DENIED unless the caller may change `e`.
pub fn may_change_event(s: &Scheduler, e: &Event) -> Result<(), Error> {
    let p = writer()?;
    if auth::can_change(&p, &event_parties(s, e)) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} neither owns nor takes part in event {:?}",
            p.office, e.id
        )))
    }
}

/// The parties of a proposal: the proposer's and recipient's countries, and the owner.
pub fn proposal_parties(s: &Scheduler, pr: &Proposal) -> Parties {
    party_offices(s, [&pr.proposer, &pr.recipient], &pr.owner_office)
}

/// The offices of proposal parties: a country party is its own office, a participant
/// party their country's; plus the owner.
pub fn party_offices<'a>(
    s: &Scheduler,
    parties: impl IntoIterator<Item = &'a Party>,
    owner: &str,
) -> Parties {
    let mut countries = std::collections::BTreeSet::new();
    for party in parties {
        match party {
            Party::Country(c) => {
                countries.insert(c.trim().to_ascii_uppercase());
            }
            Party::Participant(id) => {
                countries.extend(s.participant_countries(std::slice::from_ref(id)))
            }
        }
    }
    Parties {
        countries,
        forum: None,
        owner: owner.to_string(),
    }
}

/// Whether the caller may see `pr`.
pub fn sees_proposal(s: &Scheduler, pr: &Proposal) -> bool {
    let p = who();
    p.is_admin() || auth::can_see(&p, pr.visibility, &proposal_parties(s, pr))
}
