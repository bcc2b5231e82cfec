//! Stations themselves: what a station is, the rules its fields follow, and its rows.
//!
//! Every transaction that changes a station first bumps the one-row `stations_version` counter
//! and stamps the rows it writes with the new value. The counter row's lock orders those
//! transactions, so "the counter says N" means every change up to N is committed: an instance
//! that has loaded up to N only needs the rows stamped above N.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::random_token;
use platform::pagination::Page;
use platform::schema::{org_closure as c, stations as s, stations_version as sv};
use platform::{DbConn, Error, ErrorCode, Result};
use serde::Serialize;
use utoipa::ToSchema;

use crate::coords::{LatLng, NavLinks, Point};
use crate::hours::{Hours, HoursDoc};
use crate::vocab::{Amenities, Amenity, StationStatus};

pub const MAX_NAME: usize = 60;
pub const MAX_ADDRESS: usize = 200;
/// A station's name and address as the API takes them.
pub type StationName = platform::text::Text<MAX_NAME>;
pub type StationAddress = platform::text::Text<MAX_ADDRESS>;
pub const MAX_PHOTOS: usize = 9;
const MAX_PHOTO_URL: usize = 500;
/// [`ContactPhone::parse`] as a pattern: 5 to 20 digits, separators anywhere.
const CONTACT_PHONE_PATTERN: &str = "^[ ()+-]*([0-9][ ()+-]*){5,20}$";
/// [`photos`] as a pattern: the blanks and controls spelled out as in `platform::text`.
const PHOTO_URL_PATTERN: &str =
    "^https?://[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]+$";

/// A star rating, the union's own grading of its stations (1 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stars(i16);

impl Stars {
    pub fn parse(n: i64) -> Result<Stars> {
        (1..=5)
            .contains(&n)
            .then_some(Stars(n as i16))
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "stars"))
    }

    pub fn get(self) -> i16 {
        self.0
    }
}

/// A contact number as people write it: a mobile, a landline with area code, a short hotline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPhone(String);

impl ContactPhone {
    /// 5 to 20 digits with spaces, `-`, `+` and brackets between them, 24 characters at most
    /// as sent; stored trimmed.
    pub fn parse(input: &str) -> Result<ContactPhone> {
        let digits = input.chars().filter(char::is_ascii_digit).count();
        let ok = input.len() <= 24
            && (5..=20).contains(&digits)
            && input
                .chars()
                .all(|ch| ch.is_ascii_digit() || matches!(ch, ' ' | '-' | '+' | '(' | ')'));
        ok.then(|| ContactPhone(input.trim().to_owned()))
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "phone"))
    }

    /// The rule of [`ContactPhone::parse`] as a schema (nullable: null clears it).
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                utoipa::openapi::schema::Type::String,
                utoipa::openapi::schema::Type::Null,
            ]))
            .max_length(Some(24))
            .pattern(Some(CONTACT_PHONE_PATTERN))
            .build()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Photo URLs (http or https), at most nine.
pub fn photos<S: AsRef<str>>(urls: &[S]) -> Result<Vec<String>> {
    let invalid = || Error::invalid(ErrorCode::InvalidField, "photos");
    if urls.len() > MAX_PHOTOS {
        return Err(invalid());
    }
    urls.iter()
        .map(|u| {
            let u = u.as_ref();
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            let ok = rest.is_some_and(|r| !r.is_empty())
                && u.chars().count() <= MAX_PHOTO_URL
                && !u.chars().any(|ch| ch.is_whitespace() || ch.is_control());
            ok.then(|| u.to_owned()).ok_or_else(invalid)
        })
        .collect()
}

/// The rule of [`photos`] as a schema: at most nine http(s) URLs without blanks or controls.
pub fn photos_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let url = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_PHOTO_URL))
        .pattern(Some(PHOTO_URL_PATTERN));
    ArrayBuilder::new()
        .items(url)
        .max_items(Some(MAX_PHOTOS))
        .build()
}

/// [`photos_schema`] where null means "unchanged".
pub fn photos_or_null_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut schema = photos_schema();
    schema.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    schema
}

/// Amenity codes from the API.
pub fn amenities<S: AsRef<str>>(codes: &[S], field: &'static str) -> Result<Amenities> {
    codes
        .iter()
        .map(|c| Amenity::parse(c.as_ref().trim()))
        .collect::<Option<Amenities>>()
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))
}

/// A station's editable fields, validated.
#[derive(Debug, Clone)]
pub struct StationInput {
    pub name: String,
    pub address: String,
    /// GCJ-02.
    pub location: LatLng,
    pub amenities: Amenities,
    pub hours: Hours,
    pub stars: Option<Stars>,
    pub phone: Option<ContactPhone>,
    pub photos: Vec<String>,
    pub status: StationStatus,
}

impl StationInput {
    pub fn name(input: &str) -> Result<String> {
        orgs::text(input, "name", MAX_NAME)
    }

    pub fn address(input: &str) -> Result<String> {
        orgs::text(input, "address", MAX_ADDRESS)
    }
}

/// A change to some fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StationPatch {
    pub name: Option<String>,
    pub address: Option<String>,
    pub location: Option<LatLng>,
    pub amenities: Option<Amenities>,
    pub hours: Option<Hours>,
    pub stars: Option<Option<Stars>>,
    pub phone: Option<Option<ContactPhone>>,
    pub photos: Option<Vec<String>>,
    pub status: Option<StationStatus>,
    /// Staff checked the station on site: `last_verified_at` becomes now.
    pub verified: bool,
}

/// A stored station.
#[derive(Debug, Clone, Queryable)]
pub struct Row {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub amenities: String,
    pub hours: String,
    pub closed_dates: String,
    pub stars: Option<i16>,
    pub phone: Option<String>,
    pub photos: String,
    pub status: String,
    pub door_code: String,
    pub open_faults: i32,
    pub last_verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

type Columns = (
    s::id,
    s::org_id,
    s::name,
    s::address,
    s::lat,
    s::lng,
    s::amenities,
    s::hours,
    s::closed_dates,
    s::stars,
    s::phone,
    s::photos,
    s::status,
    s::door_code,
    s::open_faults,
    s::last_verified_at,
    s::created_at,
    s::updated_at,
);

const COLUMNS: Columns = (
    s::id,
    s::org_id,
    s::name,
    s::address,
    s::lat,
    s::lng,
    s::amenities,
    s::hours,
    s::closed_dates,
    s::stars,
    s::phone,
    s::photos,
    s::status,
    s::door_code,
    s::open_faults,
    s::last_verified_at,
    s::created_at,
    s::updated_at,
);

impl Row {
    pub fn status(&self) -> Result<StationStatus> {
        StationStatus::parse(&self.status).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "station {}: status {}",
                self.id,
                self.status
            ))
        })
    }

    pub fn location(&self) -> LatLng {
        LatLng {
            lat: self.lat,
            lng: self.lng,
        }
    }

    /// What the door QR encodes: the station and the code that proves the scan.
    pub fn door_url(&self, base: &str) -> String {
        format!("{base}/s/{}?c={}", self.id, self.door_code)
    }

    pub fn view(&self, conn: &mut DbConn, now: DateTime<Utc>) -> Result<StationView> {
        let hours = Hours::from_storage(&self.hours, &self.closed_dates)?;
        let status = self.status()?;
        Ok(StationView {
            id: self.id,
            org: orgs::reference(conn, self.org_id)?,
            name: self.name.clone(),
            address: self.address.clone(),
            location: self.location().into(),
            coord: "gcj02",
            amenities: Amenities::from_text(&self.amenities).to_vec(),
            open_now: status == StationStatus::Open
                && hours.is_open_at(platform::clock::local(now)),
            hours: hours.to_doc(),
            stars: self.stars,
            phone: self.phone.clone(),
            photos: serde_json::from_str(&self.photos).map_err(Error::internal)?,
            status,
            flagged: self.open_faults > 0,
            last_verified_at: self.last_verified_at.map(|t| t.and_utc()),
            links: NavLinks::to(self.location(), &self.name),
        })
    }

    pub fn admin_view(
        &self,
        conn: &mut DbConn,
        base: &str,
        now: DateTime<Utc>,
    ) -> Result<AdminStationView> {
        Ok(AdminStationView {
            station: self.view(conn, now)?,
            open_faults: self.open_faults,
            door_url: self.door_url(base),
            qr_svg: format!("{base}/v1/admin/stations/{}/qr.svg", self.id),
            qr_png: format!("{base}/v1/admin/stations/{}/qr.png", self.id),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }
}

/// A station as anyone may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StationView {
    pub id: i64,
    /// The union that runs it.
    pub org: OrgRef,
    pub name: String,
    pub address: String,
    /// In the system named by `coord`.
    pub location: Point,
    /// Always `gcj02`.
    pub coord: &'static str,
    pub amenities: Vec<Amenity>,
    pub hours: HoursDoc,
    /// Open at this moment (Asia/Shanghai), by its hours and status.
    pub open_now: bool,
    /// 1 to 5, the union's own grading; null when not graded.
    pub stars: Option<i16>,
    pub phone: Option<String>,
    pub photos: Vec<String>,
    pub status: StationStatus,
    /// A fault report ("microwave broken", "closed during opening hours") is unresolved.
    pub flagged: bool,
    /// When staff last checked the station on site.
    pub last_verified_at: Option<DateTime<Utc>>,
    pub links: NavLinks,
}

/// A station as its staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminStationView {
    #[serde(flatten)]
    pub station: StationView,
    /// Unresolved fault reports.
    pub open_faults: i32,
    /// What the door QR encodes: `{PUBLIC_BASE_URL}/s/{id}?c={door code}`.
    pub door_url: String,
    pub qr_svg: String,
    pub qr_png: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Takes the next stations version; call first in a write transaction (see the module doc).
pub fn bump_version(conn: &mut DbConn) -> Result<i64> {
    Ok(diesel::update(sv::table.find(1i16))
        .set(sv::version.eq(sv::version + 1))
        .returning(sv::version)
        .get_result(conn)?)
}

/// The latest committed stations version.
pub fn current_version(conn: &mut DbConn) -> Result<i64> {
    Ok(sv::table.find(1i16).select(sv::version).first(conn)?)
}

/// Stations of one transaction; the caller has bumped the version to `version`. `verified`:
/// staff checked the station on site, so `last_verified_at` is now; otherwise it stays unset
/// until someone does.
pub fn insert(
    conn: &mut DbConn,
    org_id: i64,
    input: &StationInput,
    created_by: Option<i64>,
    verified: bool,
    version: i64,
) -> Result<i64> {
    let now = platform::clock::now();
    let (week, closed_dates) = input.hours.to_storage();
    Ok(diesel::insert_into(s::table)
        .values((
            s::org_id.eq(org_id),
            s::name.eq(&input.name),
            s::address.eq(&input.address),
            s::lat.eq(input.location.lat),
            s::lng.eq(input.location.lng),
            s::amenities.eq(input.amenities.to_text()),
            s::hours.eq(week),
            s::closed_dates.eq(closed_dates),
            s::stars.eq(input.stars.map(Stars::get)),
            s::phone.eq(input.phone.as_ref().map(ContactPhone::as_str)),
            s::photos.eq(serde_json::to_string(&input.photos).map_err(Error::internal)?),
            s::status.eq(input.status.as_str()),
            s::door_code.eq(random_token(9)),
            s::open_faults.eq(0),
            s::last_verified_at.eq(verified.then_some(now)),
            s::created_by.eq(created_by),
            s::created_at.eq(now),
            s::updated_at.eq(now),
            s::version.eq(version),
        ))
        .returning(s::id)
        .get_result(conn)?)
}

/// Creates stations, all under one version: the caller's transaction makes them all or none.
/// None of them counts as checked on site (a file or seed data is not a visit).
pub fn create_many<'a>(
    conn: &mut DbConn,
    stations: impl IntoIterator<Item = (i64, &'a StationInput)>,
    created_by: Option<i64>,
) -> Result<Vec<i64>> {
    let version = bump_version(conn)?;
    // One row at a time: the multi backend has no batch insert.
    stations
        .into_iter()
        .map(|(org_id, input)| insert(conn, org_id, input, created_by, false, version))
        .collect()
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Row> {
    Ok(s::table.find(id).select(COLUMNS).first(conn)?)
}

/// A station `user` may manage (staff of its org's subtree, or admin).
pub fn managed(conn: &mut DbConn, user: &AuthUser, id: i64) -> Result<Row> {
    let row = get(conn, id)?;
    staff::require(conn, user, row.org_id)?;
    Ok(row)
}

fn record(conn: &mut DbConn, actor: &Actor, action: Action, id: i64, org_id: i64) -> Result<()> {
    let entry = Entry::new(action, Record::new("station", id)).in_org(org_id);
    audit::record(conn, actor, entry)
}

/// The use case: staff create a station run by `org_id`, an org of their subtree; `verified`
/// records that they checked it on site.
pub fn create(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    input: &StationInput,
    verified: bool,
) -> Result<Row> {
    staff::require(conn, user, org_id)?;
    let version = bump_version(conn)?;
    let id = insert(
        conn,
        org_id,
        input,
        Some(user.account_id),
        verified,
        version,
    )?;
    record(conn, actor, Action::StationCreate, id, org_id)?;
    get(conn, id)
}

/// The use case: staff edit a station; `verified` records an on-site check.
pub fn edit(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    patch: &StationPatch,
) -> Result<Row> {
    let row = managed(conn, user, id)?;
    update(conn, id, patch)?;
    record(conn, actor, Action::StationUpdate, id, row.org_id)?;
    get(conn, id)
}

/// The use case: staff close a station for good; it leaves search and stays for its history.
pub fn close(conn: &mut DbConn, user: &AuthUser, actor: &Actor, id: i64) -> Result<Row> {
    let row = managed(conn, user, id)?;
    let patch = StationPatch {
        status: Some(StationStatus::Closed),
        ..StationPatch::default()
    };
    update(conn, id, &patch)?;
    record(conn, actor, Action::StationClose, id, row.org_id)?;
    get(conn, id)
}

/// The org running a station; `not_found` when there is no such station.
pub fn org_of(conn: &mut DbConn, id: i64) -> Result<i64> {
    Ok(s::table.find(id).select(s::org_id).first(conn)?)
}

#[derive(AsChangeset)]
#[diesel(table_name = s)]
struct Changes<'a> {
    name: Option<&'a str>,
    address: Option<&'a str>,
    lat: Option<f64>,
    lng: Option<f64>,
    amenities: Option<String>,
    hours: Option<String>,
    closed_dates: Option<String>,
    stars: Option<Option<i16>>,
    phone: Option<Option<&'a str>>,
    photos: Option<String>,
    status: Option<&'a str>,
    last_verified_at: Option<Option<NaiveDateTime>>,
    updated_at: NaiveDateTime,
    version: i64,
}

/// Applies a patch; `not_found` when there is no such station.
pub fn update(conn: &mut DbConn, id: i64, patch: &StationPatch) -> Result<()> {
    let version = bump_version(conn)?;
    let now = platform::clock::now();
    let stored_hours = patch.hours.as_ref().map(Hours::to_storage);
    let changes = Changes {
        name: patch.name.as_deref(),
        address: patch.address.as_deref(),
        lat: patch.location.map(|l| l.lat),
        lng: patch.location.map(|l| l.lng),
        amenities: patch.amenities.map(Amenities::to_text),
        hours: stored_hours.as_ref().map(|h| h.0.clone()),
        closed_dates: stored_hours.map(|h| h.1),
        stars: patch.stars.map(|s| s.map(Stars::get)),
        phone: patch
            .phone
            .as_ref()
            .map(|p| p.as_ref().map(ContactPhone::as_str)),
        photos: patch
            .photos
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(Error::internal)?,
        status: patch.status.map(StationStatus::as_str),
        last_verified_at: patch.verified.then_some(Some(now)),
        updated_at: now,
        version,
    };
    let updated = diesel::update(s::table.find(id))
        .set(&changes)
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::new(ErrorCode::NotFound));
    }
    Ok(())
}

/// Changes the count of unresolved fault reports (the search flag).
pub fn add_open_faults(conn: &mut DbConn, id: i64, delta: i32) -> Result<()> {
    let version = bump_version(conn)?;
    diesel::update(s::table.find(id))
        .set((
            s::open_faults.eq(s::open_faults + delta),
            s::version.eq(version),
        ))
        .execute(conn)?;
    Ok(())
}

/// A page of the stations of an org's subtree, newest first (one row more than the page).
pub fn list_subtree(
    conn: &mut DbConn,
    org_id: i64,
    status: Option<StationStatus>,
    page: Page,
) -> Result<Vec<Row>> {
    let mut query = s::table
        .filter(
            s::org_id.eq_any(
                c::table
                    .filter(c::ancestor_id.eq(org_id))
                    .select(c::descendant_id),
            ),
        )
        .filter(s::id.lt(page.before.unwrap_or(i64::MAX)))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(s::status.eq(status.as_str()));
    }
    Ok(query
        .order(s::id.desc())
        .limit(page.limit + 1)
        .select(COLUMNS)
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules_name_the_field() {
        assert_eq!(Stars::parse(5).unwrap().get(), 5);
        assert_eq!(Stars::parse(0).unwrap_err().field(), Some("stars"));
        assert_eq!(Stars::parse(6).unwrap_err().field(), Some("stars"));
        for ok in ["025-84561234", "13800000000", "12351", "+86 551 6512 3456"] {
            assert!(ContactPhone::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["1234", "call me", "025-8456-1234-5678-9012-3456"] {
            assert_eq!(
                ContactPhone::parse(bad).unwrap_err().field(),
                Some("phone"),
                "{bad}"
            );
        }
        assert!(photos(&["https://img.example.cn/a.jpg"]).is_ok());
        assert!(photos(&["ftp://x/a.jpg"]).is_err());
        assert!(photos(&["https://"]).is_err());
        assert!(photos(&["https://a.cn/x.jpg"; 10]).is_err());
        assert_eq!(
            amenities(&["toilet", "wifi"], "amenities")
                .unwrap()
                .to_text(),
            "toilet,wifi"
        );
        assert_eq!(
            amenities(&["sauna"], "amenities").unwrap_err().field(),
            Some("amenities")
        );
    }
}
