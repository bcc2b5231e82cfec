//! Reading the audit log: staff see the entries of their subtree, admins every entry.

use chrono::NaiveDate;
use identity::AuthUser;
use platform::audit::{self, ActionPrefix, AuditEntry, Filter, RecordName, Scope};
use platform::clock::shanghai_midnight;
use platform::pagination::{Cursor, Limit, Page, PageQuery, Paged};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::staff;

/// The query of `GET /v1/admin/orgs/{id}/audit`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only actions starting with this, e.g. `membership.` or `members.export`.
    #[param(schema_with = ActionPrefix::schema)]
    pub action: Option<String>,
    /// Only what this account did.
    #[param(minimum = 1)]
    pub actor: Option<i64>,
    /// Only entries about this record, e.g. `membership:123`.
    #[param(schema_with = RecordName::schema)]
    pub record: Option<String>,
    /// From this day on (YYYY-MM-DD, Asia/Shanghai).
    pub from: Option<NaiveDate>,
    /// Up to and including this day (YYYY-MM-DD, Asia/Shanghai).
    pub to: Option<NaiveDate>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

impl AuditQuery {
    /// The filter to apply (or the field at fault) and the page asked for.
    pub fn validate(self) -> Result<(Filter, Page)> {
        let action = self
            .action
            .as_deref()
            .map(|a| ActionPrefix::parse(a, "action"))
            .transpose()?;
        let record = self
            .record
            .as_deref()
            .map(|r| RecordName::parse(r, "record"))
            .transpose()?;
        if self.actor.is_some_and(|a| a < 1) {
            return Err(Error::invalid(ErrorCode::InvalidField, "actor"));
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(Error::invalid(ErrorCode::InvalidField, "from"));
            }
        }
        // The last day the calendar has bounds nothing.
        let until = self.to.and_then(|day| day.succ_opt());
        let filter = Filter {
            action,
            actor: self.actor,
            record,
            from: self.from.map(shanghai_midnight),
            until: until.map(shanghai_midnight),
        };
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor,
        };
        Ok((filter, page.page()))
    }
}

/// The use case: a page of the log as `user` may read it through `org_id`, newest first.
/// Staff see the entries of `org_id`'s subtree (and get 404 outside their own, 403 when they
/// are no staff at all); an admin sees every entry, those that belong to no org included.
pub fn list(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    filter: &Filter,
    page: Page,
) -> Result<Paged<AuditEntry>> {
    staff::require(conn, user, org_id)?;
    let scope = if user.is_admin() {
        Scope::All
    } else {
        Scope::Subtree(org_id)
    };
    audit::list(conn, scope, filter, page)
}
