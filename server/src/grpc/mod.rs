//! The gRPC layer: one file per service, each handler converting the request, calling the
//! scheduler and converting the reply. Errors map to statuses once, in `status`.

pub mod access;
pub mod audit;
pub mod calendar;
pub mod changes;
pub mod conflicts;
pub mod connections;
pub mod convert;
pub mod directory;
pub mod events;
pub mod fresh;
pub mod health;
pub mod ics;
pub mod limits;
pub mod proposals;
pub mod sizes;
pub mod status;
pub mod tls;

use entente_proto::v1::audit_service_server::AuditServiceServer;
use entente_proto::v1::calendar_service_server::CalendarServiceServer;
use entente_proto::v1::conflict_service_server::ConflictServiceServer;
use entente_proto::v1::directory_service_server::DirectoryServiceServer;
use entente_proto::v1::event_service_server::EventServiceServer;
use entente_proto::v1::i_calendar_service_server::ICalendarServiceServer;
use entente_proto::v1::proposal_service_server::ProposalServiceServer;
use tonic::service::Routes;

use crate::scheduler::Scheduler;

/// Reads that go to disk (histories, the audit log) run off the async workers.
pub(crate) use crate::blocking as off_worker;

/// Every entente.v1 service over `scheduler`, plus health and reflection; `tokens` are
/// the ones the change feed re-checks as its streams run.
pub async fn routes(
    scheduler: Scheduler,
    limits: &limits::Limits,
    tokens: access::Tokens,
) -> Result<Routes, tonic_reflection::server::Error> {
    let max = limits.max_message_bytes;
    let (health, health_service) = tonic_health::server::health_reporter();
    let directory = DirectoryServiceServer::new(directory::Directory::new(scheduler.clone()))
        .max_decoding_message_size(max);
    let events = EventServiceServer::new(events::Events::new(scheduler.clone()))
        .max_decoding_message_size(max);
    let conflicts = ConflictServiceServer::new(conflicts::Conflicts::new(scheduler.clone()))
        .max_decoding_message_size(max);
    let proposals = ProposalServiceServer::new(proposals::Proposals::new(scheduler.clone()))
        .max_decoding_message_size(max);
    let audit = AuditServiceServer::new(audit::Audit::new(scheduler.clone()))
        .max_decoding_message_size(max);
    let calendars = CalendarServiceServer::new(calendar::Calendars::new(scheduler.clone()))
        .max_decoding_message_size(max);
    let interop = ICalendarServiceServer::new(ics::Interop::new(scheduler.clone()))
        .max_decoding_message_size(max);
    let feeds = ics::FeedRoute::new(scheduler.clone(), tokens.clone());
    // Every service reports SERVING by its own name, as load balancers and Kubernetes
    // probes ask, besides the server as a whole (""); NOT_SERVING while the store cannot
    // commit (`health`).
    use tonic::server::NamedService;
    health::follow_store(
        &scheduler,
        health.clone(),
        vec![
            DirectoryServiceServer::<directory::Directory>::NAME,
            EventServiceServer::<events::Events>::NAME,
            ConflictServiceServer::<conflicts::Conflicts>::NAME,
            ProposalServiceServer::<proposals::Proposals>::NAME,
            AuditServiceServer::<audit::Audit>::NAME,
            CalendarServiceServer::<calendar::Calendars>::NAME,
            ICalendarServiceServer::<ics::Interop>::NAME,
            changes::Route::NAME,
        ],
    );
    let changes = changes::Route::new(changes::Changes::new(scheduler, tokens), max);
    health
        .set_serving::<DirectoryServiceServer<directory::Directory>>()
        .await;
    health
        .set_serving::<EventServiceServer<events::Events>>()
        .await;
    health
        .set_serving::<ConflictServiceServer<conflicts::Conflicts>>()
        .await;
    health
        .set_serving::<ProposalServiceServer<proposals::Proposals>>()
        .await;
    health
        .set_serving::<AuditServiceServer<audit::Audit>>()
        .await;
    health
        .set_serving::<CalendarServiceServer<calendar::Calendars>>()
        .await;
    health
        .set_serving::<ICalendarServiceServer<ics::Interop>>()
        .await;
    health.set_serving::<changes::Route>().await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(entente_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // grpcurl and some older tools still ask the v1alpha reflection service.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(entente_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let mut routes = Routes::builder();
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(directory)
        .add_service(events)
        .add_service(conflicts)
        .add_service(proposals)
        .add_service(audit)
        .add_service(calendars)
        .add_service(interop)
        .add_service(feeds)
        .add_service(changes);
    Ok(routes.routes())
}
