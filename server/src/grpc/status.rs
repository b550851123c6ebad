//! The one mapping from domain errors to gRPC statuses, with rich details
//! (`google.rpc.BadRequest`, `PreconditionFailure`, `ResourceInfo`) that any generated client
//! can decode to learn which field or which conflict was the problem.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

use crate::error::Error;

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        let message = e.to_string();
        match e {
            Error::Invalid(violations) => {
                let v: Vec<FieldViolation> = violations
                    .into_iter()
                    .map(|f| FieldViolation::new(f.field, f.description))
                    .collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(v),
                )
            }
            Error::NotFound { kind, id, field } => {
                let mut d = ErrorDetails::with_resource_info(kind, id, "", message.clone());
                if !field.is_empty() {
                    d.add_bad_request_violation(field, message.clone());
                }
                Status::with_error_details(Code::NotFound, message, d)
            }
            Error::AlreadyExists { kind, id } => Status::with_error_details(
                Code::AlreadyExists,
                message.clone(),
                ErrorDetails::with_resource_info(kind, id, "", message),
            ),
            Error::FailedPrecondition { violations, .. } => {
                let v: Vec<PreconditionViolation> = violations
                    .into_iter()
                    .map(|p| PreconditionViolation::new(p.kind, p.subject, p.description))
                    .collect();
                Status::with_error_details(
                    Code::FailedPrecondition,
                    message,
                    ErrorDetails::with_precondition_failure(v),
                )
            }
            Error::Aborted(_) => Status::new(Code::Aborted, message),
            Error::Unauthenticated(_) => Status::new(Code::Unauthenticated, message),
            Error::PermissionDenied(_) => Status::new(Code::PermissionDenied, message),
            Error::ResourceExhausted(_) => Status::new(Code::ResourceExhausted, message),
            Error::Storage(_) | Error::StoreInUse(_) | Error::Corrupt { .. } => {
                tracing::error!(error = %message, "storage error");
                Status::new(Code::Internal, message)
            }
            Error::Poisoned => Status::new(Code::Unavailable, message),
        }
    }
}
