//! Reading the audit log: staff see the entries of their subtree, admins every entry.

use identity::AuthUser;
use platform::audit::{self, ActionPrefix, AuditEntry, Scope};
use platform::pagination::{Cursor, Limit, Page, PageQuery, Paged};
use platform::{DbConn, Result};
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
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

impl AuditQuery {
    /// The action prefix to match (or `action` at fault) and the page asked for.
    pub fn validate(self) -> Result<(Option<ActionPrefix>, Page)> {
        let action = self
            .action
            .as_deref()
            .map(|a| ActionPrefix::parse(a, "action"))
            .transpose()?;
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor,
        };
        Ok((action, page.page()))
    }
}

/// The use case: a page of the log as `user` may read it through `org_id`, newest first.
/// Staff see the entries of `org_id`'s subtree (and get 404 outside their own, 403 when they
/// are no staff at all); an admin sees every entry, those that belong to no org included.
pub fn list(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    action: Option<&ActionPrefix>,
    page: Page,
) -> Result<Paged<AuditEntry>> {
    staff::require(conn, user, org_id)?;
    let scope = if user.is_admin() {
        Scope::All
    } else {
        Scope::Subtree(org_id)
    };
    audit::list(conn, scope, action, page)
}
