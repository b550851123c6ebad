//! Proposals: invitations, meeting requests and agreements, with their state machine and
//! attributed history.

use crate::error::Result;
use crate::storage::Store;

/// All proposals and their indexes.
#[derive(Debug, Default)]
pub struct ProposalStore {}

impl ProposalStore {
    /// Rebuilds everything from the stored proposals.
    pub fn load(_store: &Store) -> Result<ProposalStore> {
        Ok(ProposalStore::default())
    }

    /// Ids of proposals a participant is a party to.
    pub fn referrers(&self, _participant: &str) -> Vec<String> {
        Vec::new()
    }
}
