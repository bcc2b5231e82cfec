//! Union organisations and their tree. Subtree questions go through the closure table, one
//! indexed look-up on either database however deep the tree.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use identity::AuthUser;
use platform::audit::{self, Action, Actor, Entry, Record};
use platform::pagination::{Page, Paged};
use platform::schema::{memberships as ms, org_closure as c, orgs as o};
use platform::text::Text;
use platform::{DbConn, Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::vocab::{OrgKind, Status};

/// A 6-digit administrative division code (GB/T 2260), e.g. `320102` for Xuanwu, Nanjing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(input: &str) -> Result<RegionCode> {
        let b = input.as_bytes();
        let ok = b.len() == 6 && b.iter().all(u8::is_ascii_digit) && (b'1'..=b'8').contains(&b[0]);
        ok.then(|| RegionCode(input.to_owned()))
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "region_code"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A point in GCJ-02, the system of China's maps.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct Location {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

impl Location {
    pub fn validate(self) -> Result<Location> {
        let ok = (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lng);
        ok.then_some(self)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "location"))
    }
}

// The body of `POST /v1/admin/orgs`; not a doc comment, which would become
// the schema description in the spec.
#[derive(Deserialize, ToSchema)]
pub struct CreateOrg {
    /// The parent org; omitted only for a top-level federation (admins only).
    pub parent_id: Option<i64>,
    pub kind: OrgKind,
    pub name: Text<100>,
    /// 6-digit administrative division code, e.g. 320102.
    #[schema(pattern = "^[1-8][0-9]{5}$")]
    pub region_code: String,
    pub address: Text<200>,
    pub location: Option<Location>,
}

impl CreateOrg {
    /// The org to found, or the first field at fault (the region code, then the location).
    pub fn validate(self) -> Result<NewOrg> {
        Ok(NewOrg {
            parent_id: self.parent_id,
            kind: self.kind,
            name: self.name.into_inner(),
            region_code: RegionCode::parse(&self.region_code)?,
            address: self.address.into_inner(),
            location: self.location.map(Location::validate).transpose()?,
        })
    }
}

/// What a new org needs.
pub struct NewOrg {
    pub parent_id: Option<i64>,
    pub kind: OrgKind,
    pub name: String,
    pub region_code: RegionCode,
    pub address: String,
    pub location: Option<Location>,
}

/// An org as anyone may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgView {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// Name of the parent org, for display ("玄武区总工会 · 南京市总工会").
    pub parent_name: Option<String>,
    pub kind: OrgKind,
    pub name: String,
    pub region_code: String,
    pub address: String,
    /// GCJ-02 coordinates, when known.
    pub location: Option<Location>,
    pub created_at: DateTime<Utc>,
}

/// An org as stored; the location is two nullable columns, both set or neither.
#[derive(Queryable, Selectable)]
#[diesel(table_name = o)]
struct OrgRow {
    id: i64,
    parent_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    kind: OrgKind,
    name: String,
    region_code: String,
    address: String,
    lat: Option<f64>,
    lng: Option<f64>,
    created_at: NaiveDateTime,
}

/// Trims and bounds a free-text field (names, addresses, labels): `platform::text`'s rule.
pub fn text(input: &str, field: &'static str, max_chars: usize) -> Result<String> {
    platform::text::clean(input, max_chars)
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, field))
}

/// The use case: staff of the parent (admins, for a top-level federation) found an org. The
/// entry belongs to the new org, which lies in the parent's subtree.
pub fn found(conn: &mut DbConn, user: &AuthUser, actor: &Actor, new: NewOrg) -> Result<OrgView> {
    match new.parent_id {
        Some(parent) => crate::staff::require(conn, user, parent)?,
        None if user.is_admin() => {}
        None => return Err(Error::new(ErrorCode::Forbidden)),
    }
    let view = create(conn, new)?;
    let entry = Entry::new(Action::OrgCreate, Record::new("org", view.id)).in_org(view.id);
    audit::record(conn, actor, entry)?;
    Ok(view)
}

/// Creates an org and its closure rows: itself at depth 0, then each ancestor of the parent.
pub fn create(conn: &mut DbConn, new: NewOrg) -> Result<OrgView> {
    let now = platform::clock::now();
    let id: i64 = diesel::insert_into(o::table)
        .values((
            o::parent_id.eq(new.parent_id),
            o::kind.eq(new.kind.as_str()),
            o::name.eq(&new.name),
            o::region_code.eq(new.region_code.as_str()),
            o::address.eq(&new.address),
            o::lat.eq(new.location.map(|l| l.lat)),
            o::lng.eq(new.location.map(|l| l.lng)),
            o::created_at.eq(now),
        ))
        .returning(o::id)
        .get_result(conn)?;
    let mut closure = vec![(id, 0)];
    if let Some(parent) = new.parent_id {
        let ancestors: Vec<(i64, i32)> = c::table
            .filter(c::descendant_id.eq(parent))
            .select((c::ancestor_id, c::depth))
            .load(conn)?;
        if ancestors.is_empty() {
            return Err(Error::new(ErrorCode::NotFound));
        }
        closure.extend(ancestors.into_iter().map(|(a, d)| (a, d + 1)));
    }
    // One row at a time: the multi backend has no batch insert, and a tree is a few levels deep.
    for (ancestor, depth) in closure {
        diesel::insert_into(c::table)
            .values((
                c::ancestor_id.eq(ancestor),
                c::descendant_id.eq(id),
                c::depth.eq(depth),
            ))
            .execute(conn)?;
    }
    view(conn, id)
}

/// The first org of that exact name (demo data and tools find their orgs by name).
pub fn named(conn: &mut DbConn, name: &str) -> Result<Option<i64>> {
    Ok(o::table
        .filter(o::name.eq(name))
        .select(o::id)
        .order(o::id)
        .first(conn)
        .optional()?)
}

pub fn exists(conn: &mut DbConn, id: i64) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(o::table.find(id))).get_result(conn)?)
}

/// The public view of an org; `not_found` when there is none.
pub fn view(conn: &mut DbConn, id: i64) -> Result<OrgView> {
    let row = o::table.find(id).select(OrgRow::as_select()).first(conn)?;
    let parent_name = match row.parent_id {
        Some(p) => Some(o::table.find(p).select(o::name).first(conn)?),
        None => None,
    };
    Ok(OrgView {
        id: row.id,
        parent_id: row.parent_id,
        parent_name,
        kind: row.kind,
        name: row.name,
        region_code: row.region_code,
        address: row.address,
        location: row.lat.zip(row.lng).map(|(lat, lng)| Location { lat, lng }),
        created_at: row.created_at.and_utc(),
    })
}

/// A short reference to an org inside other views.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: i64,
    pub name: String,
}

pub fn reference(conn: &mut DbConn, id: i64) -> Result<OrgRef> {
    let name = o::table.find(id).select(o::name).first(conn)?;
    Ok(OrgRef { id, name })
}

/// Orgs read at once, for a list that names each row's org.
pub struct References(HashMap<i64, OrgRef>);

impl References {
    /// The org `id`; one not read is a broken reference (rows name their org by foreign key).
    pub fn get(&self, id: i64) -> Result<OrgRef> {
        self.0
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::internal(anyhow::anyhow!("org {id} was not read")))
    }
}

/// The orgs `ids` name (repeats allowed), in one query.
pub fn references(conn: &mut DbConn, ids: &[i64]) -> Result<References> {
    let rows: Vec<(i64, String)> = o::table
        .filter(o::id.eq_any(ids))
        .select((o::id, o::name))
        .load(conn)?;
    Ok(References(
        rows.into_iter()
            .map(|(id, name)| (id, OrgRef { id, name }))
            .collect(),
    ))
}

pub fn region_code(conn: &mut DbConn, id: i64) -> Result<String> {
    Ok(o::table.find(id).select(o::region_code).first(conn)?)
}

/// Which of `orgs` lie in `ancestor`'s subtree (itself included).
pub fn within(
    conn: &mut DbConn,
    orgs: &[i64],
    ancestor: i64,
) -> Result<std::collections::HashSet<i64>> {
    Ok(c::table
        .filter(c::ancestor_id.eq(ancestor))
        .filter(c::descendant_id.eq_any(orgs))
        .select(c::descendant_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}

/// True when `org` is `ancestor` or lies below it.
pub fn is_within(conn: &mut DbConn, org: i64, ancestor: i64) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        c::table.filter(c::ancestor_id.eq(ancestor).and(c::descendant_id.eq(org))),
    ))
    .get_result(conn)?)
}

/// Members and applications of an org, as a console tree shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrgCounts {
    pub active_members: i64,
    pub pending_applications: i64,
}

impl std::ops::AddAssign for OrgCounts {
    fn add_assign(&mut self, other: OrgCounts) {
        self.active_members += other.active_members;
        self.pending_applications += other.pending_applications;
    }
}

/// One org of the tree a caller may act on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgNode {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub kind: OrgKind,
    pub name: String,
    /// Levels below the caller's top org: 0 for an org they are granted on (for admins, a
    /// top-level org), 1 for its children, and so on.
    pub depth: i32,
    /// In this org itself.
    pub counts: OrgCounts,
    /// In this org and every org below it.
    pub subtree_counts: OrgCounts,
}

/// An org as the tree needs it.
#[derive(Queryable)]
struct Branch {
    id: i64,
    parent_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    kind: OrgKind,
    name: String,
}

/// The use case: the orgs `user` may act on, in tree order (each org before its children,
/// siblings by name, then id), paged. Staff get the subtrees of their grants, admins every org.
/// The cursor is the last org of the page before. A few queries however many orgs there are,
/// none per org: the tree is put in order, and its counts added up, in memory.
pub fn tree(conn: &mut DbConn, user: &AuthUser, page: Page) -> Result<Paged<OrgNode>> {
    crate::staff::require_any(conn, user)?;
    let branches = in_reach(conn, user)?;
    let order = tree_order(&branches);
    let start = match page.before {
        None => 0,
        Some(last) => {
            let at = order.iter().position(|&(i, _)| branches[i].id == last);
            at.ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "cursor"))? + 1
        }
    };
    let tops: Vec<i64> = order
        .iter()
        .filter(|&&(_, depth)| depth == 0)
        .map(|&(i, _)| branches[i].id)
        .collect();
    let own = counts(conn, &tops)?;
    let subtree = roll_up(&branches, &order, &own);
    let end = order.len().min(start + page.limit as usize + 1);
    let nodes = order[start..end]
        .iter()
        .map(|&(i, depth)| {
            let b = &branches[i];
            OrgNode {
                id: b.id,
                parent_id: b.parent_id,
                kind: b.kind,
                name: b.name.clone(),
                depth,
                counts: own.get(&b.id).copied().unwrap_or_default(),
                subtree_counts: subtree[i],
            }
        })
        .collect();
    Ok(Paged::from_rows(nodes, page, |n| n.id))
}

/// Every org `user` may act on, each once (grants may nest).
fn in_reach(conn: &mut DbConn, user: &AuthUser) -> Result<Vec<Branch>> {
    let columns = (o::id, o::parent_id, o::kind, o::name);
    let mut branches: Vec<Branch> = if user.is_admin() {
        o::table.select(columns).load(conn)?
    } else {
        let granted = crate::staff::granted_orgs(conn, user.account_id)?;
        c::table
            .inner_join(o::table)
            .filter(c::ancestor_id.eq_any(granted))
            .select(columns)
            .load(conn)?
    };
    branches.sort_by_key(|b| b.id);
    branches.dedup_by_key(|b| b.id);
    Ok(branches)
}

/// Indexes into `branches` in tree order, with their depth below the top orgs (those whose
/// parent is out of reach): a depth-first walk, siblings by name, then id.
fn tree_order(branches: &[Branch]) -> Vec<(usize, i32)> {
    let index: HashMap<i64, usize> = branches
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id, i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, b) in branches.iter().enumerate() {
        let parent = b.parent_id.and_then(|p| index.get(&p).copied());
        children.entry(parent).or_default().push(i);
    }
    for siblings in children.values_mut() {
        // Reversed, so that popping the stack visits them in order.
        siblings.sort_by(|&x, &y| {
            let key = |i: usize| (&branches[i].name, branches[i].id);
            key(y).cmp(&key(x))
        });
    }
    let mut stack: Vec<(usize, i32)> = children
        .get(&None)
        .map(|tops| tops.iter().map(|&i| (i, 0)).collect())
        .unwrap_or_default();
    let mut order = Vec::with_capacity(branches.len());
    while let Some((i, depth)) = stack.pop() {
        order.push((i, depth));
        if let Some(below) = children.get(&Some(i)) {
            stack.extend(below.iter().map(|&c| (c, depth + 1)));
        }
    }
    order
}

/// Active members and pending applications of each org in the subtrees of `tops`, grouped in
/// the database (`tops` do not nest, so no membership is counted twice).
fn counts(conn: &mut DbConn, tops: &[i64]) -> Result<HashMap<i64, OrgCounts>> {
    let statuses = [Status::Active.as_str(), Status::Pending.as_str()];
    // The subtree as a subquery, not a join: SQLite then counts along the (org, status) index
    // in its order instead of sorting every row for the grouping (0.7 against 1.8 ms for
    // 11,000 memberships).
    let subtree = c::table
        .filter(c::ancestor_id.eq_any(tops))
        .select(c::descendant_id);
    let rows: Vec<(i64, String, i64)> = ms::table
        .filter(ms::org_id.eq_any(subtree))
        .filter(ms::status.eq_any(statuses))
        .group_by((ms::org_id, ms::status))
        .select((ms::org_id, ms::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut counts: HashMap<i64, OrgCounts> = HashMap::new();
    for (org, status, n) in rows {
        let entry = counts.entry(org).or_default();
        if status == Status::Active.as_str() {
            entry.active_members = n;
        } else {
            entry.pending_applications = n;
        }
    }
    Ok(counts)
}

/// Each org's counts with those of every org below it, by index into `branches`: walking the
/// tree order backwards meets every org after all of its descendants.
fn roll_up(
    branches: &[Branch],
    order: &[(usize, i32)],
    own: &HashMap<i64, OrgCounts>,
) -> Vec<OrgCounts> {
    let index: HashMap<i64, usize> = branches
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id, i))
        .collect();
    let mut totals = vec![OrgCounts::default(); branches.len()];
    for &(i, _) in order.iter().rev() {
        totals[i] += own.get(&branches[i].id).copied().unwrap_or_default();
        // A top org's parent is out of reach, so not in `index`.
        if let Some(p) = branches[i].parent_id.and_then(|p| index.get(&p).copied()) {
            let below = totals[i];
            totals[p] += below;
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(id: i64, parent_id: Option<i64>, name: &str) -> Branch {
        Branch {
            id,
            parent_id,
            kind: OrgKind::District,
            name: name.to_owned(),
        }
    }

    #[test]
    fn parents_come_before_children_and_siblings_go_by_name_then_id() {
        // Two top orgs (a staff member granted on 2 and on 9), out-of-reach parent 1.
        let branches = vec![
            branch(2, Some(1), "b"),
            branch(3, Some(2), "z"),
            branch(4, Some(2), "a"),
            branch(5, Some(4), "x"),
            branch(6, Some(2), "a"),
            branch(9, Some(1), "a"),
        ];
        let order: Vec<(i64, i32)> = tree_order(&branches)
            .into_iter()
            .map(|(i, depth)| (branches[i].id, depth))
            .collect();
        assert_eq!(order, [(9, 0), (2, 0), (4, 1), (5, 2), (6, 1), (3, 1)]);
    }

    #[test]
    fn subtree_counts_add_up_every_org_below() {
        let branches = vec![
            branch(1, None, "city"),
            branch(2, Some(1), "district"),
            branch(3, Some(2), "street"),
            branch(4, Some(1), "other"),
        ];
        let n = |active_members, pending_applications| OrgCounts {
            active_members,
            pending_applications,
        };
        let own = HashMap::from([(1, n(1, 0)), (3, n(5, 2)), (4, n(0, 1))]);
        let totals = roll_up(&branches, &tree_order(&branches), &own);
        assert_eq!(totals, [n(6, 3), n(5, 2), n(5, 2), n(0, 1)]);
    }
}
