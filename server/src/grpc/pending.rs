//! Services whose RPCs are part of the v1 contract but not served yet: each answers
//! UNIMPLEMENTED until its issue lands.

use entente_proto::v1 as pb;
use tonic::{Request, Response, Status};

/// Answers UNIMPLEMENTED for every RPC of the services below.
#[derive(Debug, Clone, Default)]
pub struct Pending;

macro_rules! pending {
    ($trait:path { $($method:ident($req:ty) -> $resp:ty;)* }) => {
        #[tonic::async_trait]
        impl $trait for Pending {
            $(
                async fn $method(&self, _req: Request<$req>) -> Result<Response<$resp>, Status> {
                    Err(Status::unimplemented(concat!(
                        stringify!($method),
                        " is part of entente.v1 but not served by this version yet"
                    )))
                }
            )*
        }
    };
}

pending!(pb::audit_service_server::AuditService {
    list_audit_records(pb::ListAuditRecordsRequest) -> pb::ListAuditRecordsResponse;
});
