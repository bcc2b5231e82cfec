//! Stations themselves: what a station is, its rows, and the use cases of the staff who run
//! it (the rules each field follows are in [`crate::fields`]). Every change first bumps the
//! stations version ([`crate::version`]) and stamps its rows with it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use membership::orgs::{self, OrgRef};
use membership::staff;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::crypto::random_token;
use platform::pagination::{Cursor, Limit, PageQuery, Paged};
use platform::schema::{org_closure as c, stations as s};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::coords::{LatLng, Point};
use crate::fields::{self, ContactPhone, Stars, StationAddress, StationName};
use crate::hours::{Hours, HoursDoc};
use crate::links::NavLinks;
use crate::version::bump_version;
use crate::vocab::{Amenities, Amenity, CoordSystem, StationStatus};

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

/// A station to create: its fields, and whether staff checked it on site just now.
#[derive(Debug, Clone)]
pub struct NewStation {
    pub input: StationInput,
    pub verified: bool,
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
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = s)]
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
    #[diesel(deserialize_as = String)]
    pub status: StationStatus,
    pub door_code: String,
    pub open_faults: i32,
    pub last_verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Row {
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
        self.view_of(orgs::reference(conn, self.org_id)?, now)
    }

    /// [`Row::view`] with the station's org already read (a list reads them all at once).
    fn view_of(&self, org: OrgRef, now: DateTime<Utc>) -> Result<StationView> {
        let hours = Hours::from_storage(&self.hours, &self.closed_dates)?;
        Ok(StationView {
            id: self.id,
            org,
            name: self.name.clone(),
            address: self.address.clone(),
            location: self.location().into(),
            coord: "gcj02",
            amenities: Amenities::from_text(&self.amenities).to_vec(),
            open_now: self.status == StationStatus::Open
                && hours.is_open_at(platform::clock::local(now)),
            hours: hours.to_doc(),
            stars: self.stars,
            phone: self.phone.clone(),
            photos: serde_json::from_str(&self.photos).map_err(Error::internal)?,
            status: self.status,
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
        self.admin_view_of(orgs::reference(conn, self.org_id)?, base, now)
    }

    /// [`Row::admin_view`] with the station's org already read.
    fn admin_view_of(
        &self,
        org: OrgRef,
        base: &str,
        now: DateTime<Utc>,
    ) -> Result<AdminStationView> {
        Ok(AdminStationView {
            station: self.view_of(org, now)?,
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
    Ok(s::table.find(id).select(Row::as_select()).first(conn)?)
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

/// The use case: anyone reads a station's page.
pub fn show(conn: &mut DbConn, id: i64, now: DateTime<Utc>) -> Result<StationView> {
    get(conn, id)?.view(conn, now)
}

/// The use case: staff read a station they manage, with its door QR links.
pub fn show_managed(
    conn: &mut DbConn,
    user: &AuthUser,
    id: i64,
    base: &str,
    now: DateTime<Utc>,
) -> Result<AdminStationView> {
    managed(conn, user, id)?.admin_view(conn, base, now)
}

/// The use case: staff print the door QR of a station they manage; what it encodes.
pub fn managed_door_url(conn: &mut DbConn, user: &AuthUser, id: i64, base: &str) -> Result<String> {
    Ok(managed(conn, user, id)?.door_url(base))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateStation {
    pub name: StationName,
    pub address: StationAddress,
    pub location: Point,
    /// System of `location`: `gcj02` (default), `wgs84` or `bd09`; stored as GCJ-02.
    pub coord: Option<CoordSystem>,
    /// Amenity codes.
    #[serde(default)]
    #[schema(value_type = Vec<Amenity>)]
    pub amenities: Vec<String>,
    pub hours: HoursDoc,
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub stars: Option<i64>,
    #[schema(schema_with = ContactPhone::schema)]
    pub phone: Option<String>,
    /// Photo URLs, at most nine.
    #[serde(default)]
    #[schema(schema_with = fields::photos_schema)]
    pub photos: Vec<String>,
    /// `open` (default) or `temporarily_closed`.
    #[schema(schema_with = fields::opening_status_schema)]
    pub status: Option<String>,
    /// `true`: staff checked the station on site just now (sets `last_verified_at`, which
    /// otherwise stays null).
    #[serde(default)]
    pub verified: bool,
}

impl CreateStation {
    /// The station the body describes; a refusal names the first field at fault, in the
    /// order of the fields.
    pub fn validate(self) -> Result<NewStation> {
        let input = StationInput {
            name: self.name.into_inner(),
            address: self.address.into_inner(),
            location: fields::location(self.location, self.coord)?,
            amenities: fields::amenities(&self.amenities, "amenities")?,
            hours: Hours::from_doc(&self.hours, "hours")?,
            stars: self.stars.map(Stars::parse).transpose()?,
            phone: self.phone.as_deref().map(ContactPhone::parse).transpose()?,
            photos: fields::photos(&self.photos)?,
            status: match self.status.as_deref() {
                None => StationStatus::Open,
                Some(text) => fields::opening_status(text)
                    .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "status"))?,
            },
        };
        Ok(NewStation {
            input,
            verified: self.verified,
        })
    }
}

/// The use case: staff create a station run by `org_id`, an org of their subtree; `verified`
/// records that they checked it on site.
pub fn create(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    org_id: i64,
    new: &NewStation,
    base: &str,
    now: DateTime<Utc>,
) -> Result<AdminStationView> {
    staff::require(conn, user, org_id)?;
    let version = bump_version(conn)?;
    let id = insert(
        conn,
        org_id,
        &new.input,
        Some(user.account_id),
        new.verified,
        version,
    )?;
    record(conn, actor, Action::StationCreate, id, org_id)?;
    get(conn, id)?.admin_view(conn, base, now)
}

#[derive(Deserialize, ToSchema, Default)]
pub struct PatchStation {
    pub name: Option<StationName>,
    pub address: Option<StationAddress>,
    pub location: Option<Point>,
    /// System of `location`: `gcj02` (default), `wgs84` or `bd09`.
    pub coord: Option<CoordSystem>,
    #[schema(value_type = Option<Vec<Amenity>>)]
    pub amenities: Option<Vec<String>>,
    pub hours: Option<HoursDoc>,
    /// 1 to 5, or null to clear.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 5)]
    pub stars: Option<Option<i64>>,
    /// null to clear.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = ContactPhone::schema)]
    pub phone: Option<Option<String>>,
    #[schema(schema_with = fields::photos_or_null_schema)]
    pub photos: Option<Vec<String>>,
    /// `open`, `temporarily_closed` or `closed`.
    pub status: Option<StationStatus>,
    /// `true`: staff checked the station on site just now (sets `last_verified_at`).
    #[serde(default)]
    pub verified: bool,
}

impl PatchStation {
    /// The change the body describes; a refusal names the first present field at fault.
    pub fn validate(self) -> Result<StationPatch> {
        Ok(StationPatch {
            name: self.name.map(Text::into_inner),
            address: self.address.map(Text::into_inner),
            location: self
                .location
                .map(|p| fields::location(p, self.coord))
                .transpose()?,
            amenities: self
                .amenities
                .as_deref()
                .map(|a| fields::amenities(a, "amenities"))
                .transpose()?,
            hours: self
                .hours
                .as_ref()
                .map(|h| Hours::from_doc(h, "hours"))
                .transpose()?,
            stars: self
                .stars
                .map(|s| s.map(Stars::parse).transpose())
                .transpose()?,
            phone: self
                .phone
                .map(|p| p.as_deref().map(ContactPhone::parse).transpose())
                .transpose()?,
            photos: self.photos.as_deref().map(fields::photos).transpose()?,
            status: self.status,
            verified: self.verified,
        })
    }
}

/// The use case: staff edit a station; `verified` records an on-site check.
pub fn edit(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    patch: &StationPatch,
    base: &str,
    now: DateTime<Utc>,
) -> Result<AdminStationView> {
    let row = managed(conn, user, id)?;
    update(conn, id, patch)?;
    record(conn, actor, Action::StationUpdate, id, row.org_id)?;
    get(conn, id)?.admin_view(conn, base, now)
}

/// The use case: staff close a station for good; it leaves search and stays for its history.
pub fn close(
    conn: &mut DbConn,
    user: &AuthUser,
    actor: &Actor,
    id: i64,
    base: &str,
    now: DateTime<Utc>,
) -> Result<AdminStationView> {
    let row = managed(conn, user, id)?;
    let patch = StationPatch {
        status: Some(StationStatus::Closed),
        ..StationPatch::default()
    };
    update(conn, id, &patch)?;
    record(conn, actor, Action::StationClose, id, row.org_id)?;
    get(conn, id)?.admin_view(conn, base, now)
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StationListQuery {
    /// `open`, `temporarily_closed` or `closed`; all when omitted.
    #[param(inline)]
    pub status: Option<StationStatus>,
    #[param(inline)]
    pub limit: Option<Limit>,
    #[param(inline)]
    pub cursor: Option<Cursor>,
}

/// The use case: staff list the stations of an org's subtree, newest first.
pub fn list(
    conn: &mut DbConn,
    user: &AuthUser,
    org_id: i64,
    query: StationListQuery,
    base: &str,
    now: DateTime<Utc>,
) -> Result<Paged<AdminStationView>> {
    staff::require(conn, user, org_id)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page();
    let mut rows = s::table
        .filter(
            s::org_id.eq_any(
                c::table
                    .filter(c::ancestor_id.eq(org_id))
                    .select(c::descendant_id),
            ),
        )
        .filter(s::id.lt(page.before.unwrap_or(i64::MAX)))
        .into_boxed();
    if let Some(status) = query.status {
        rows = rows.filter(s::status.eq(status.as_str()));
    }
    // One row more than the page: whether there is a next one.
    let rows: Vec<Row> = rows
        .order(s::id.desc())
        .limit(page.limit + 1)
        .select(Row::as_select())
        .load(conn)?;
    // The page's orgs in one query, not one per station.
    let org_ids: Vec<i64> = rows.iter().map(|row| row.org_id).collect();
    let orgs = orgs::references(conn, &org_ids)?;
    let views = rows
        .iter()
        .map(|row| row.admin_view_of(orgs.get(row.org_id)?, base, now))
        .collect::<Result<Vec<_>>>()?;
    Ok(Paged::from_rows(views, page, |v| v.station.id))
}
