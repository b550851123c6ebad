//! Reading the audit log (ADMIN only): its records in order, a page at a time.

use crate::audit::AuditRecord;
use crate::auth::Principal;
use crate::error::Result;
use crate::scheduler::Scheduler;
use crate::validate::PageRequest;

impl Scheduler {
    /// Audit records in order, one page at a time (ADMIN only).
    pub fn audit_records(
        &self,
        who: &Principal,
        page: &PageRequest,
    ) -> Result<(Vec<AuditRecord>, String)> {
        crate::policy::require_admin(who)?;
        let after = page.after_sequence()?;
        let rows = self.store().scan_from(
            crate::storage::prefix::AUDIT,
            &after.saturating_add(1).to_be_bytes(),
            page.size + 1,
        )?;
        crate::validate::sequence_page(
            rows.iter()
                .map(|(k, v)| crate::commit::StoredCommit::decode(k, v).map(|c| c.audit)),
            |r| r.sequence,
            page,
        )
    }
}
