//! The audit log (PIPL Art. 51): who did what to which record, from which address, when.
//!
//! Use cases record their entry themselves, in the transaction of the change (or, for a view of
//! members' data, on the connection of the read), so the JSON API and the console cannot differ
//! and an entry exists exactly when what it records does.
//!
//! Entries name records by kind and id and never carry personal data: no phone, name, ID number
//! or free text. Every text an entry holds is a compile-time constant of this module's types or
//! the client address. The log is append-only: nothing here updates or deletes a row.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, ErrorCode};
use crate::pagination::{Page, Paged};
use crate::schema::{audit_log as al, org_closure as c};
use crate::{DbConn, Result};

/// Who acts: an account from a client address, or the system on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    account_id: Option<i64>,
    address: String,
}

impl Actor {
    /// An account acting from `address` (the client address as our proxies saw it).
    pub fn account(account_id: i64, address: impl Into<String>) -> Actor {
        Actor {
            account_id: Some(account_id),
            address: address.into(),
        }
    }

    /// The service itself (a scheduled job, a migration): no account and no address.
    pub fn system() -> Actor {
        Actor {
            account_id: None,
            address: String::new(),
        }
    }

    pub fn account_id(&self) -> Option<i64> {
        self.account_id
    }

    pub fn address(&self) -> &str {
        &self.address
    }
}

macro_rules! actions {
    ($( $variant:ident = $name:literal, )*) => {
        /// Everything the log records, each under a stable dotted name (`concept.verb`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $( $variant, )* }

        impl Action {
            /// Every action, for documentation and tests.
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( Action::$variant => $name, )* }
            }
        }
    };
}

actions! {
    OrgCreate = "org.create",
    StaffGrant = "staff.grant",
    StaffRevoke = "staff.revoke",
    JoinCodeCreate = "join_code.create",
    JoinCodeRevoke = "join_code.revoke",
    MembershipApprove = "membership.approve",
    MembershipReject = "membership.reject",
    ApplicationsList = "applications.list",
    MembersList = "members.list",
    MembersExport = "members.export",
    MemberView = "member.view",
    CardVerify = "card.verify",
    ProgramCreate = "program.create",
    ProgramUpdate = "program.update",
    ProgramPublish = "program.publish",
    ProgramClose = "program.close",
    ProgramDraw = "program.draw",
    SessionCreate = "session.create",
    SessionUpdate = "session.update",
    SessionCancel = "session.cancel",
    BookingsList = "bookings.list",
    BookingsExport = "bookings.export",
    LedgerView = "ledger.view",
    NotificationsView = "notifications.view",
    VoucherRedeem = "voucher.redeem",
    VoucherScan = "voucher.scan",
    BookingCheckIn = "booking.check_in",
    BookingScan = "booking.scan",
    ReportAttach = "report.attach",
    StationCreate = "station.create",
    StationUpdate = "station.update",
    StationClose = "station.close",
    StationImport = "station.import",
    FeedbackUpdate = "feedback.update",
    BroadcastSend = "broadcast.send",
    CaseFile = "case.file",
    CaseJoin = "case.join",
    CaseView = "case.view",
    CasesList = "cases.list",
    CaseAccept = "case.accept",
    CaseDecline = "case.decline",
    CaseMessage = "case.message",
    CaseAssign = "case.assign",
    CaseRefer = "case.refer",
    CaseClose = "case.close",
    CaseFollowUp = "case.follow_up",
    MeetingSchedule = "meeting.schedule",
    GrantApply = "grant.apply",
    GrantView = "grant.view",
    GrantReview = "grant.review",
    GrantVerify = "grant.verify",
    GrantNotice = "grant.notice",
    GrantObject = "grant.object",
    GrantApprove = "grant.approve",
    GrantReject = "grant.reject",
    GrantBatchCreate = "grant_batch.create",
    GrantBatchExport = "grant_batch.export",
    GrantPaid = "grant.paid",
    GrantPaymentFailed = "grant.payment_failed",
    GrantPayoutCorrect = "grant.payout_correct",
    GrantDocumentAdd = "grant_document.add",
    GrantDocumentDownload = "grant_document.download",
    GrantOrdersImport = "grant_orders.import",
    AgreementSign = "agreement.sign",
    InstalmentPay = "instalment.pay",
    MediatorAdd = "mediator.add",
    MediatorRemove = "mediator.remove",
    EvidenceAdd = "evidence.add",
    EvidenceDownload = "evidence.download",
    DataExport = "data.export",
    ConsentWithdraw = "consent.withdraw",
    AccountDelete = "account.delete",
}

/// What was acted on, by kind and id: stored as `membership:123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    kind: &'static str,
    id: i64,
}

impl Record {
    /// `kind` is a table-like noun (`membership`, `org`, `station`), never data.
    pub const fn new(kind: &'static str, id: i64) -> Record {
        Record { kind, id }
    }
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// One entry to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub action: Action,
    pub record: Record,
    /// The org the entry belongs to: staff of its subtree see it.
    pub org_id: Option<i64>,
    /// The member whose data this is about, when there is one.
    pub subject_account_id: Option<i64>,
}

impl Entry {
    pub fn new(action: Action, record: Record) -> Entry {
        Entry {
            action,
            record,
            org_id: None,
            subject_account_id: None,
        }
    }

    pub fn in_org(self, org_id: i64) -> Entry {
        Entry {
            org_id: Some(org_id),
            ..self
        }
    }

    pub fn about(self, account_id: i64) -> Entry {
        Entry {
            subject_account_id: Some(account_id),
            ..self
        }
    }
}

/// Appends `entry`. Call it inside the use case's transaction: if the change rolls back, so
/// does its entry, and a failed append fails the change.
pub fn record(conn: &mut DbConn, actor: &Actor, entry: Entry) -> Result<()> {
    diesel::insert_into(al::table)
        .values((
            al::at.eq(crate::clock::now()),
            al::actor_account_id.eq(actor.account_id),
            al::actor_address.eq(&actor.address),
            al::action.eq(entry.action.as_str()),
            al::org_id.eq(entry.org_id),
            al::subject_account_id.eq(entry.subject_account_id),
            al::record.eq(entry.record.to_string()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A filter on action names: `membership.` or `membership.approve` (ASCII lower case, digits,
/// `_` and `.`, at most 64 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPrefix(String);

impl ActionPrefix {
    pub fn parse(input: &str, field: &'static str) -> Result<ActionPrefix> {
        let ok = (1..=64).contains(&input.len())
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        ok.then(|| ActionPrefix(input.to_owned()))
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))
    }

    /// The rule of [`ActionPrefix::parse`] as a schema.
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z0-9_.]{1,64}$"))
            .build()
    }

    /// The LIKE pattern, `_` escaped (it is a wildcard there).
    fn pattern(&self) -> String {
        format!("{}%", self.0.replace('_', "\\_"))
    }
}

/// Whose entries a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every entry, those of no org included (admins).
    All,
    /// Entries of this org and every org below it (staff).
    Subtree(i64),
}

/// An entry as the log shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The acting account; null when the system acted.
    pub actor_account_id: Option<i64>,
    /// The client address of the actor; empty for the system.
    pub actor_address: String,
    /// A stable dotted name, e.g. `membership.approve`.
    pub action: String,
    pub org_id: Option<i64>,
    /// The member whose data the action concerned.
    pub subject_account_id: Option<i64>,
    /// What was acted on, e.g. `membership:123`.
    pub record: String,
}

type Row = (
    i64,
    NaiveDateTime,
    Option<i64>,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
);

/// A record named as the log stores it, `membership:123`: a filter of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName(String);

impl RecordName {
    pub fn parse(input: &str, field: &'static str) -> Result<RecordName> {
        let ok = input.split_once(':').is_some_and(|(kind, id)| {
            (1..=32).contains(&kind.len())
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && (1..=18).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_digit())
        });
        ok.then(|| RecordName(input.to_owned()))
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))
    }

    /// The rule of [`RecordName::parse`] as a schema.
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z_]{1,32}:[0-9]{1,18}$"))
            .build()
    }
}

/// Which entries to list, besides the reader's scope: every field narrows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub action: Option<ActionPrefix>,
    /// Entries of this acting account.
    pub actor: Option<i64>,
    pub record: Option<RecordName>,
    /// From this instant on (inclusive).
    pub from: Option<NaiveDateTime>,
    /// Before this instant.
    pub until: Option<NaiveDateTime>,
}

/// A page of entries in `scope` that `filter` lets through, newest first.
pub fn list(
    conn: &mut DbConn,
    scope: Scope,
    filter: &Filter,
    page: Page,
) -> Result<Paged<AuditEntry>> {
    let mut query = al::table
        .filter(al::id.lt(page.before.unwrap_or(i64::MAX)))
        .select((
            al::id,
            al::at,
            al::actor_account_id,
            al::actor_address,
            al::action,
            al::org_id,
            al::subject_account_id,
            al::record,
        ))
        .order(al::id.desc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Scope::Subtree(org_id) = scope {
        let subtree = c::table
            .filter(c::ancestor_id.eq(org_id))
            .select(c::descendant_id.nullable());
        query = query.filter(al::org_id.eq_any(subtree));
    }
    if let Some(prefix) = &filter.action {
        query = query.filter(al::action.like(prefix.pattern()).escape('\\'));
    }
    if let Some(actor) = filter.actor {
        query = query.filter(al::actor_account_id.eq(actor));
    }
    if let Some(record) = &filter.record {
        query = query.filter(al::record.eq(record.0.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(al::at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(al::at.lt(until));
    }
    let rows: Vec<Row> = query.load(conn)?;
    let entries = rows
        .into_iter()
        .map(
            |(id, at, actor_account_id, actor_address, action, org_id, subject, record)| {
                AuditEntry {
                    id,
                    at: at.and_utc(),
                    actor_account_id,
                    actor_address,
                    action,
                    org_id,
                    subject_account_id: subject,
                    record,
                }
            },
        )
        .collect();
    Ok(Paged::from_rows(entries, page, |e| e.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_unique_dotted_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for action in Action::ALL {
            let name = action.as_str();
            assert!(seen.insert(name), "duplicate action {name}");
            let (concept, verb) = name.split_once('.').expect("concept.verb");
            for part in [concept, verb] {
                assert!(!part.is_empty(), "{name}");
                assert!(
                    part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn records_render_as_kind_and_id() {
        assert_eq!(Record::new("membership", 123).to_string(), "membership:123");
    }

    #[test]
    fn prefixes_take_action_characters_only_and_escape_the_wildcard() {
        let prefix = ActionPrefix::parse("join_code.", "action").unwrap();
        assert_eq!(prefix.pattern(), "join\\_code.%");
        for bad in ["", "Membership", "members%", "a b", &"x".repeat(65)] {
            let err = ActionPrefix::parse(bad, "action").unwrap_err();
            assert_eq!(err.field(), Some("action"), "{bad:?}");
        }
    }
}
