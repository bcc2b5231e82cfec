//! Orgs: the subtree a staff member may act on as a tree, a child org created under one, and
//! the staff of an org: listed, granted by phone number, revoked.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use identity::phone::Phone;
use identity::Identity;
use maud::{html, Markup};
use membership::orgs::{self, CreateOrg};
use membership::staff::{self, StaffList};
use membership::vocab::OrgKind;
use platform::text::Text;
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice};
use crate::errors::{refusal_text, PageResult};
use crate::forms::{Empty, Submitted};
use crate::i18n::{Lang, Pick};
use crate::labels;
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs", web::get().to(page))
        .route("/orgs", web::post().to(create_child))
        .route("/orgs/{id}/staff", web::post().to(grant))
        .route("/orgs/{id}/staff/{account}/revoke", web::post().to(revoke));
}

#[derive(Deserialize)]
pub struct OrgsQuery {
    org: Option<i64>,
}

async fn page(req: HttpRequest, staff: Staff, query: web::Query<OrgsQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let asked = query.org;
    let user = staff.user.clone();
    let (choice, list) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, asked)?;
            let list = match choice.current {
                Some(org) => Some(staff::list(conn, &identity, &user, org)?),
                None => None,
            };
            Ok((choice, list))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, list) {
        (Some(org), Some(list)) => html! {
            (tree(lang, &choice, org))
            h2 { (list.org.name) }
            (staff_table(&staff, org, &list))
            (grant_form(&staff, org))
            (child_form(&staff, org))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Orgs,
        lang.t("组织", "Orgs"),
        body,
    ))
}

fn tree(lang: Lang, choice: &OrgChoice, current: i64) -> Markup {
    html! {
        div.table { table.tree-table #org-tree {
            thead { tr {
                th { (lang.t("组织", "Org")) } th { (lang.t("类型", "Kind")) }
                th { (lang.t("在会会员（含下级）", "Members (with orgs below)")) }
                th { (lang.t("待审核（含下级）", "Waiting (with orgs below)")) }
            } }
            tbody {
                @for node in &choice.orgs {
                    tr data-org=(node.id) aria-current=[(node.id == current).then_some("true")] {
                        td { (super::indent(node.depth)) a href=(format!("/console/orgs?org={}", node.id)) { (node.name) } }
                        td { (labels::org_kind(lang, node.kind)) }
                        td { (node.subtree_counts.active_members) }
                        td { a href=(format!("/console/applications?org={}", node.id)) { (node.subtree_counts.pending_applications) } }
                    }
                }
            }
        } }
    }
}

fn staff_table(staff: &Staff, org: i64, list: &StaffList) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("本组织工作人员", "Staff of this org")) }
        @if list.items.is_empty() {
            p.muted { (lang.t("此组织没有直接授权的工作人员（上级组织的工作人员也可管理它）。",
                "No one is granted on this org itself (staff of the orgs above it act on it too).")) }
        } @else {
            div.table { table #staff {
                thead { tr {
                    th { (lang.t("手机", "Phone")) } th { (lang.t("授权人", "Granted by")) }
                    th { (lang.t("授权时间", "Since")) } th { (lang.t("操作", "Action")) }
                } }
                tbody {
                    @for member in &list.items {
                        tr data-account=(member.account_id) {
                            td { (member.phone_masked) }
                            td { (member.granted_by_phone_masked.as_deref().unwrap_or("—")) }
                            td { (layout::when(member.granted_at)) }
                            // One's own grant is withdrawn by another staff member: a click
                            // here would lock the only person looking at the page out.
                            td { @if member.account_id != staff.user.account_id {
                                form method="post" action=(format!("/console/orgs/{org}/staff/{}/revoke", member.account_id)) {
                                    (csrf(staff))
                                    button.secondary type="submit" { (lang.t("撤销授权", "Revoke")) }
                                }
                            } }
                        }
                    }
                }
            } }
        }
    }
}

fn grant_form(staff: &Staff, org: i64) -> Markup {
    let lang = staff.lang;
    html! {
        form.inline method="post" action=(format!("/console/orgs/{org}/staff")) id="grant-staff" {
            (csrf(staff))
            label { (lang.t("授权工作人员（已注册的手机号）", "Grant staff (a registered mobile number)"))
                input type="tel" name="phone" inputmode="numeric" maxlength="11" required; }
            button type="submit" { (lang.t("授权", "Grant")) }
        }
    }
}

fn child_form(staff: &Staff, org: i64) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("新建下级组织", "New org below this one")) }
        form.stack method="post" action="/console/orgs" id="new-org" {
            (csrf(staff))
            input type="hidden" name="parent_id" value=(org);
            label { (lang.t("名称", "Name")) input type="text" name="name" maxlength="100" required; }
            label { (lang.t("类型", "Kind"))
                select name="kind" {
                    @for kind in [OrgKind::District, OrgKind::Street, OrgKind::Community, OrgKind::Industry, OrgKind::Enterprise, OrgKind::City] {
                        option value=(kind.as_str()) { (labels::org_kind(lang, kind)) }
                    }
                }
            }
            label { (lang.t("行政区划代码（6 位）", "Region code (6 digits)"))
                input type="text" name="region_code" inputmode="numeric" pattern="[1-8][0-9]{5}" required; }
            label { (lang.t("地址", "Address")) input type="text" name="address" maxlength="200" required; }
            button type="submit" { (lang.t("创建", "Create")) }
        }
    }
}

fn back(staff: &Staff, org: i64, message: &str) -> HttpResponse {
    staff.back_to(format!("/console/orgs?org={org}"), message)
}

#[derive(Deserialize)]
pub struct NewChild {
    parent_id: i64,
    name: String,
    kind: String,
    region_code: String,
    address: String,
}

impl NewChild {
    fn body(self) -> Result<CreateOrg, Error> {
        let invalid = |field| Error::invalid(ErrorCode::InvalidField, field);
        Ok(CreateOrg {
            parent_id: Some(self.parent_id),
            kind: OrgKind::parse(&self.kind).ok_or_else(|| invalid("kind"))?,
            name: Text::parse(&self.name).ok_or_else(|| invalid("name"))?,
            region_code: self.region_code.trim().to_owned(),
            address: Text::parse(&self.address).ok_or_else(|| invalid("address"))?,
            location: None,
        })
    }
}

async fn create_child(req: HttpRequest, submitted: Submitted<NewChild>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let Submitted { staff, form, .. } = submitted;
    let parent = form.parent_id;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match form.body().and_then(CreateOrg::validate) {
        Ok(new) => {
            db.write(move |conn| orgs::found(conn, &user, &actor, new))
                .await
        }
        Err(e) => Err(e),
    };
    let lang = staff.lang;
    Ok(match outcome {
        Ok(view) => back(&staff, view.id, lang.t("已创建。", "Created.")),
        Err(e) => back(&staff, parent, &refusal_text(lang, &e)),
    })
}

#[derive(Deserialize)]
pub struct GrantForm {
    phone: String,
}

async fn grant(
    req: HttpRequest,
    org: web::Path<i64>,
    submitted: Submitted<GrantForm>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let Submitted { staff, form, .. } = submitted;
    let org = org.into_inner();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match Phone::parse(&form.phone) {
        None => Err(Error::invalid(ErrorCode::InvalidPhone, "phone")),
        Some(phone) => {
            db.write(move |conn| staff::appoint(conn, &identity, &user, &actor, org, &phone))
                .await
        }
    };
    let lang = staff.lang;
    let message = match outcome {
        Ok((_, true)) => lang.t("已授权。", "Granted.").to_owned(),
        Ok((_, false)) => lang
            .t("此账号已是本组织工作人员。", "Already staff here.")
            .to_owned(),
        Err(e) => refusal_text(lang, &e),
    };
    Ok(back(&staff, org, &message))
}

async fn revoke(
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
    submitted: Submitted<Empty>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let staff = submitted.staff;
    let (org, account) = path.into_inner();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    db.write(move |conn| staff::revoke(conn, &identity, &user, &actor, org, account))
        .await?;
    Ok(back(&staff, org, staff.lang.t("已撤销授权。", "Revoked.")))
}
