//! `entente audit ...`: who wrote what, for ADMIN tokens.

use clap::Subcommand;
use entente_client::Client;
use entente_client::proto as pb;

use super::{Out, Res, every_page};

/// `entente audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Every write, oldest first: office, token name, method and resource.
    List,
}

/// Runs an audit command.
pub async fn audit(client: &Client, out: &Out, cmd: AuditCmd) -> Res {
    let a = client.audit();
    match cmd {
        AuditCmd::List => {
            let all = every_page(|page_token| {
                let mut c = a.clone();
                let req = pb::ListAuditRecordsRequest {
                    page_size: 1000,
                    page_token,
                };
                async move {
                    let page = c.list_audit_records(req).await?.into_inner();
                    Ok((page.records, page.next_page_token))
                }
            })
            .await?;
            if out.json {
                return Ok(out.json_many(&all, "entente.v1.AuditRecord")?);
            }
            Ok(out.table(
                &["#", "TIME (UTC)", "OFFICE", "TOKEN", "METHOD", "RESOURCE"],
                all.into_iter()
                    .map(|r| {
                        vec![
                            r.sequence.to_string(),
                            r.time.map(|t| t.to_string()).unwrap_or_default(),
                            r.office,
                            r.token_name,
                            r.method,
                            r.resource,
                        ]
                    })
                    .collect(),
            )?)
        }
    }
}
