//! Join codes: what a union prints on a poster as `{PUBLIC_BASE_URL}/j/{code}`. Short enough to
//! type, unguessable (72 random bits), URL-safe.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::random_token;
use platform::pagination::{Page, Paged};
use platform::schema::join_codes as j;
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::orgs::{self, OrgRef, OrgView};
use crate::staff;

/// 9 random bytes, base64url: 12 characters.
const CODE_BYTES: usize = 9;
const CODE_LEN: usize = 12;

/// A well-formed join code (whether it exists is a database question).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCode(String);

impl JoinCode {
    /// Anything not shaped like a code cannot exist: `join_code_unknown`.
    pub fn parse(input: &str) -> Result<JoinCode> {
        let ok = input.len() == CODE_LEN
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| JoinCode(input.to_owned()))
            .ok_or_else(|| Error::new(ErrorCode::JoinCodeUnknown))
    }

    fn generate() -> JoinCode {
        JoinCode(random_token(CODE_BYTES))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL the poster's QR encodes.
    pub fn poster_url(&self, base: &str) -> String {
        format!("{base}/j/{}", self.0)
    }
}

/// Reading a stored code (`#[diesel(deserialize_as = String)]`): every stored code was made by
/// `generate`, so one that is not shaped like a code is a corrupt row, not a caller's mistake.
impl TryFrom<String> for JoinCode {
    type Error = Error;

    fn try_from(text: String) -> Result<JoinCode> {
        JoinCode::parse(&text)
    }
}

// The body of `POST /v1/admin/orgs/{id}/join-codes`; not a doc comment, which would become
// the schema description in the spec.
#[derive(Deserialize, ToSchema)]
pub struct CreateJoinCode {
    /// What the poster is for, e.g. "2026 summer service fair".
    pub label: Text<60>,
    /// RFC 3339, in the future; the code stops working then.
    pub expires_at: Option<DateTime<Utc>>,
    /// How many joins the code allows.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_uses: Option<i32>,
    /// Joins are active at once instead of waiting for review (default false).
    #[serde(default)]
    pub auto_approve: bool,
}

impl CreateJoinCode {
    /// The code `created_by` asks for on `org_id`, or the field at fault: an expiry already
    /// past would make a dead poster, and the schema bounds `max_uses`.
    pub fn validate(self, org_id: i64, created_by: i64) -> Result<NewJoinCode> {
        if self
            .expires_at
            .is_some_and(|at| at <= platform::clock::now_utc())
        {
            return Err(Error::invalid(ErrorCode::InvalidField, "expires_at"));
        }
        if self.max_uses.is_some_and(|n| !(1..=1_000_000).contains(&n)) {
            return Err(Error::invalid(ErrorCode::InvalidField, "max_uses"));
        }
        Ok(NewJoinCode {
            org_id,
            label: self.label.into_inner(),
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            auto_approve: self.auto_approve,
            created_by,
        })
    }
}

pub struct NewJoinCode {
    pub org_id: i64,
    pub label: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
    pub auto_approve: bool,
    pub created_by: i64,
}

/// A code as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinCodeView {
    pub id: i64,
    pub code: String,
    /// What the poster's QR encodes.
    pub url: String,
    pub org: OrgRef,
    pub label: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
    pub uses: i32,
    /// Joins through this code are active at once instead of waiting for review.
    pub auto_approve: bool,
    pub revoked: bool,
    /// Staff-only links to the poster images.
    pub qr_svg: String,
    pub qr_png: String,
    pub created_at: DateTime<Utc>,
}

/// A stored code.
#[derive(Queryable, Selectable)]
#[diesel(table_name = j)]
pub struct Stored {
    pub id: i64,
    #[diesel(deserialize_as = String)]
    pub code: JoinCode,
    pub org_id: i64,
    pub label: String,
    pub expires_at: Option<NaiveDateTime>,
    pub max_uses: Option<i32>,
    pub uses: i32,
    pub auto_approve: bool,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl Stored {
    /// Why this code cannot be used now, if it cannot.
    pub fn refusal(&self, now: NaiveDateTime) -> Option<ErrorCode> {
        if self.revoked_at.is_some() {
            Some(ErrorCode::JoinCodeRevoked)
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some(ErrorCode::JoinCodeExpired)
        } else if self.max_uses.is_some_and(|max| self.uses >= max) {
            Some(ErrorCode::JoinCodeUsedUp)
        } else {
            None
        }
    }

    pub fn view(&self, conn: &mut DbConn, base: &str) -> Result<JoinCodeView> {
        Ok(JoinCodeView {
            id: self.id,
            code: self.code.as_str().to_owned(),
            url: self.code.poster_url(base),
            org: orgs::reference(conn, self.org_id)?,
            label: self.label.clone(),
            expires_at: self.expires_at.map(|t| t.and_utc()),
            max_uses: self.max_uses,
            uses: self.uses,
            auto_approve: self.auto_approve,
            revoked: self.revoked_at.is_some(),
            qr_svg: format!("{base}/v1/admin/join-codes/{}/qr.svg", self.code.as_str()),
            qr_png: format!("{base}/v1/admin/join-codes/{}/qr.png", self.code.as_str()),
            created_at: self.created_at.and_utc(),
        })
    }
}

fn entry(action: Action, code: &Stored) -> Entry {
    Entry::new(action, Record::new("join_code", code.id)).in_org(code.org_id)
}

/// The use case: staff of `new.org_id` create a code for a poster.
pub fn issue(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    new: NewJoinCode,
    base: &str,
) -> Result<JoinCodeView> {
    staff::require(conn, user, new.org_id)?;
    let stored = create(conn, new)?;
    audit::record(conn, actor, entry(Action::JoinCodeCreate, &stored))?;
    stored.view(conn, base)
}

pub fn create(conn: &mut DbConn, new: NewJoinCode) -> Result<Stored> {
    let code = JoinCode::generate();
    let id: i64 = diesel::insert_into(j::table)
        .values((
            j::code.eq(code.as_str()),
            j::org_id.eq(new.org_id),
            j::label.eq(&new.label),
            j::expires_at.eq(new.expires_at.map(|t| t.naive_utc())),
            j::max_uses.eq(new.max_uses),
            j::uses.eq(0),
            j::auto_approve.eq(new.auto_approve),
            j::created_by.eq(new.created_by),
            j::created_at.eq(platform::clock::now()),
        ))
        .returning(j::id)
        .get_result(conn)?;
    get_by_id(conn, id)
}

fn get_by_id(conn: &mut DbConn, id: i64) -> Result<Stored> {
    Ok(j::table.find(id).select(Stored::as_select()).first(conn)?)
}

/// The stored code; `join_code_unknown` when there is none.
pub fn find(conn: &mut DbConn, code: &JoinCode) -> Result<Stored> {
    j::table
        .filter(j::code.eq(code.as_str()))
        .select(Stored::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::new(ErrorCode::JoinCodeUnknown))
}

/// A page of the org's codes, newest first (one row more than the page, see `Paged`).
pub fn list_for_org(conn: &mut DbConn, org_id: i64, page: Page) -> Result<Vec<Stored>> {
    Ok(j::table
        .filter(j::org_id.eq(org_id))
        .filter(j::id.lt(page.before.unwrap_or(i64::MAX)))
        .order(j::id.desc())
        .limit(page.limit + 1)
        .select(Stored::as_select())
        .load(conn)?)
}

/// The use case: staff of `org_id` read a page of its codes, newest first.
pub fn list(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    page: Page,
    base: &str,
) -> Result<Paged<JoinCodeView>> {
    staff::require(conn, user, org_id)?;
    let views = list_for_org(conn, org_id, page)?
        .iter()
        .map(|code| code.view(conn, base))
        .collect::<Result<Vec<_>>>()?;
    Ok(Paged::from_rows(views, page, |v| v.id))
}

/// Counts one use, atomically: of many riders scanning at once, never more than `max_uses`
/// succeed. On refusal says why.
pub fn take_use(conn: &mut DbConn, code: &Stored) -> Result<()> {
    let now = platform::clock::now();
    let taken = diesel::update(j::table)
        .filter(j::id.eq(code.id))
        .filter(j::revoked_at.is_null())
        .filter(j::expires_at.is_null().or(j::expires_at.gt(now)))
        .filter(
            j::max_uses
                .is_null()
                .or(j::uses.lt(j::max_uses.assume_not_null())),
        )
        .set(j::uses.eq(j::uses + 1))
        .execute(conn)?;
    if taken == 1 {
        return Ok(());
    }
    let fresh = get_by_id(conn, code.id)?;
    Err(Error::new(
        fresh.refusal(now).unwrap_or(ErrorCode::JoinCodeUsedUp),
    ))
}

/// A code `user` may manage. Unknown codes are `not_found` here, like codes outside the
/// caller's subtree, and non-staff are refused before any look-up.
pub fn managed(conn: &mut DbConn, user: &AuthUser, code: &str) -> Result<Stored> {
    staff::require_any(conn, user)?;
    let stored = JoinCode::parse(code)
        .and_then(|code| find(conn, &code))
        .map_err(|_| Error::new(ErrorCode::NotFound))?;
    staff::require(conn, user, stored.org_id)?;
    Ok(stored)
}

/// The use case: staff fetch the URL a code's poster encodes, to print it as a QR.
pub fn poster_url(conn: &mut DbConn, user: &AuthUser, code: &str, base: &str) -> Result<String> {
    Ok(managed(conn, user, code)?.code.poster_url(base))
}

/// The use case: staff withdraw a code; scanning it then says so. Revoking twice is harmless.
pub fn revoke(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    code: &str,
    base: &str,
) -> Result<JoinCodeView> {
    let code = managed(conn, user, code)?;
    diesel::update(j::table.find(code.id))
        .filter(j::revoked_at.is_null())
        .set(j::revoked_at.eq(platform::clock::now()))
        .execute(conn)?;
    audit::record(conn, actor, entry(Action::JoinCodeRevoke, &code))?;
    get_by_id(conn, code.id)?.view(conn, base)
}

/// What scanning a code shows before joining.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinPreview {
    pub code: String,
    pub label: String,
    /// The union the rider is about to join.
    pub org: OrgView,
    /// False: the application waits for the union's review.
    pub auto_approve: bool,
}

/// The preview, or the reason the code cannot be used (a distinct problem code each).
pub fn preview(conn: &mut DbConn, code: &JoinCode) -> Result<JoinPreview> {
    let stored = find(conn, code)?;
    if let Some(refusal) = stored.refusal(platform::clock::now()) {
        return Err(Error::new(refusal));
    }
    Ok(JoinPreview {
        code: stored.code.as_str().to_owned(),
        label: stored.label,
        org: orgs::view(conn, stored.org_id)?,
        auto_approve: stored.auto_approve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_well_formed_and_distinct() {
        let a = JoinCode::generate();
        assert_eq!(JoinCode::parse(a.as_str()).unwrap(), a);
        assert_ne!(a, JoinCode::generate());
        assert_eq!(
            a.poster_url("https://u.cn"),
            format!("https://u.cn/j/{}", a.as_str())
        );
        for bad in ["", "short", "has space 12", "ab/cd+ef=gh1", "abcdefghijklm"] {
            assert_eq!(
                JoinCode::parse(bad).unwrap_err().code(),
                ErrorCode::JoinCodeUnknown
            );
        }
    }

    #[test]
    fn a_new_code_must_expire_in_the_future_and_allow_at_least_one_use() {
        let body = |expires_in_secs: Option<i64>, max_uses| CreateJoinCode {
            label: Text::parse("夏季服务日").unwrap(),
            expires_at: expires_in_secs
                .map(|s| platform::clock::now_utc() + chrono::Duration::seconds(s)),
            max_uses,
            auto_approve: false,
        };
        let field = |body: CreateJoinCode| {
            let e = body.validate(7, 1).err().unwrap();
            (e.code(), e.field().map(str::to_owned))
        };
        let invalid = |name: &str| (ErrorCode::InvalidField, Some(name.to_owned()));
        assert_eq!(field(body(Some(-1), None)), invalid("expires_at"));
        assert_eq!(field(body(None, Some(0))), invalid("max_uses"));
        assert_eq!(field(body(None, Some(1_000_001))), invalid("max_uses"));
        let new = body(Some(3600), Some(1_000_000)).validate(7, 1).unwrap();
        assert_eq!(
            (new.org_id, new.created_by, new.label.as_str()),
            (7, 1, "夏季服务日")
        );
    }

    #[test]
    fn a_stored_code_reads_back_only_when_shaped_like_one() {
        let code = JoinCode::generate();
        let read = JoinCode::try_from(code.as_str().to_owned()).unwrap();
        assert_eq!(read, code);
        assert!(JoinCode::try_from("not a code".to_owned()).is_err());
    }
}
