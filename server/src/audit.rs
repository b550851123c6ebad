//! The audit log: one record per committed write, in the write's own atomic batch, and the
//! names of the operations it records.

/// One write, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// 1, 2, 3, ...
    pub sequence: u64,
    /// Microseconds since the epoch.
    pub time: i64,
    /// The caller's office ("" for an administrator without one: access control off, or
    /// [`Principal::system`](crate::auth::Principal::system)).
    pub office: String,
    /// The token's name ("anonymous" without access control, "system" for the scheduler's
    /// own hand).
    pub token: String,
    /// The operation, named as the RPC that performs it.
    pub method: String,
    /// The first resource the write touched: "events/kazan-summit".
    pub resource: String,
}

/// The operations that write, named as the RPC that performs each, so that the audit log
/// reads the same whether a write came over gRPC or from an embedder.
pub mod method {
    macro_rules! methods {
        ($($name:ident = $service:literal / $rpc:literal;)*) => {
            $(
                #[doc = concat!("`", $service, "/", $rpc, "`.")]
                pub const $name: &str = concat!("/entente.v1.", $service, "/", $rpc);
            )*
        };
    }
    methods! {
        CREATE_COUNTRY = "DirectoryService" / "CreateCountry";
        UPDATE_COUNTRY = "DirectoryService" / "UpdateCountry";
        DELETE_COUNTRY = "DirectoryService" / "DeleteCountry";
        CREATE_PARTICIPANT = "DirectoryService" / "CreateParticipant";
        UPDATE_PARTICIPANT = "DirectoryService" / "UpdateParticipant";
        DELETE_PARTICIPANT = "DirectoryService" / "DeleteParticipant";
        CREATE_VENUE = "DirectoryService" / "CreateVenue";
        UPDATE_VENUE = "DirectoryService" / "UpdateVenue";
        DELETE_VENUE = "DirectoryService" / "DeleteVenue";
        CREATE_FORUM = "DirectoryService" / "CreateForum";
        UPDATE_FORUM = "DirectoryService" / "UpdateForum";
        DELETE_FORUM = "DirectoryService" / "DeleteForum";
        UPDATE_WORK_CALENDAR = "CalendarService" / "UpdateWorkCalendar";
        DELETE_WORK_CALENDAR = "CalendarService" / "DeleteWorkCalendar";
        IMPORT_HOLIDAYS = "CalendarService" / "ImportHolidays";
        CREATE_CALENDAR_FEED = "ICalendarService" / "CreateCalendarFeed";
        DELETE_CALENDAR_FEED = "ICalendarService" / "DeleteCalendarFeed";
        CREATE_EVENT = "EventService" / "CreateEvent";
        UPDATE_EVENT = "EventService" / "UpdateEvent";
        CANCEL_EVENT = "EventService" / "CancelEvent";
        SET_ATTENDANCE = "EventService" / "SetAttendance";
        RECOMPUTE_INSTANTS = "EventService" / "RecomputeInstants";
        CREATE_PROPOSAL = "ProposalService" / "CreateProposal";
        ACCEPT_PROPOSAL = "ProposalService" / "AcceptProposal";
        DECLINE_PROPOSAL = "ProposalService" / "DeclineProposal";
        COUNTER_PROPOSAL = "ProposalService" / "CounterProposal";
        REVISE_PROPOSAL = "ProposalService" / "ReviseProposal";
        WITHDRAW_PROPOSAL = "ProposalService" / "WithdrawProposal";
        FINALISE_PROPOSAL = "ProposalService" / "FinaliseProposal";
    }
    /// The expiry sweep, which stores the EXPIRED status a passed deadline already shows.
    pub const EXPIRE_PROPOSALS: &str = "expiry-sweep";
    /// The sweep forgetting idempotency records past their retention.
    pub const FORGET_REQUESTS: &str = "request-retention";
}

/// "e/kazan" -> "events/kazan".
pub fn resource_name(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(key);
    let (prefix, rest) = text.split_at(text.find('/').map_or(0, |i| i + 1));
    let rest = rest.split('\0').next().unwrap_or(rest);
    let collection = match prefix {
        "c/" => "countries",
        "p/" => "participants",
        "v/" => "venues",
        "f/" => "forums",
        "e/" | "h/" => "events",
        "x/" | "y/" => "proposals",
        "q/" => "requests",
        _ => "other",
    };
    format!("{collection}/{rest}")
}
