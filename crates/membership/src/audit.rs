//! Reading the audit log: staff see the entries of their subtree, admins every entry.

use identity::AuthUser;
use platform::audit::{self, ActionPrefix, AuditEntry, Scope};
use platform::pagination::{Page, Paged};
use platform::{DbConn, Result};

use crate::staff;

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
