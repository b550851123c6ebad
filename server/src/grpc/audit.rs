//! `entente.v1.AuditService`: the audit log, for ADMIN tokens.

use entente_proto::v1 as pb;
use entente_proto::v1::audit_service_server::AuditService;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::{access, convert};
use crate::grpc::status::OrStatus;
use crate::scheduler::Scheduler;

/// The audit service over a scheduler.
#[derive(Debug, Clone)]
pub struct Audit {
    scheduler: Scheduler,
}

impl Audit {
    /// Serves `scheduler`'s audit log.
    pub fn new(scheduler: Scheduler) -> Audit {
        Audit { scheduler }
    }
}

#[tonic::async_trait]
impl AuditService for Audit {
    #[instrument(skip_all)]
    async fn list_audit_records(
        &self,
        req: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let s = self.scheduler.clone();
        let (records, next_page_token) = super::off_worker(move || s.audit_records(&who, &page))
            .await
            .or_status()?;
        Ok(Response::new(pb::ListAuditRecordsResponse {
            records: records
                .into_iter()
                .map(|a| pb::AuditRecord {
                    sequence: a.sequence as i64,
                    time: convert::timestamp(a.time),
                    office: a.office,
                    token_name: a.token,
                    method: a.method,
                    resource: a.resource,
                })
                .collect(),
            next_page_token,
        }))
    }
}
