//! The join queue: pending applications of an org's subtree, approve one, reject one with a
//! reason the applicant reads, or approve the ticked ones at once.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use identity::Identity;
use maud::{html, Markup};
use membership::applications;
use membership::members::{self, MemberRow};
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::text::Text;
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice};
use crate::errors::PageResult;
use crate::forms::{Empty, Submitted};
use crate::i18n::{Lang, Pick};
use crate::labels;
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications", web::get().to(queue))
        .route("/applications/approve", web::post().to(approve_ticked))
        .route("/applications/{id}/approve", web::post().to(approve_one))
        .route("/applications/{id}/reject", web::post().to(reject_one));
}

#[derive(Deserialize)]
pub struct QueueQuery {
    org: Option<i64>,
    cursor: Option<Cursor>,
}

async fn queue(req: HttpRequest, staff: Staff, query: web::Query<QueueQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let QueueQuery { org, cursor } = query.into_inner();
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page();
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let (choice, list) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, org)?;
            let list = match choice.current {
                Some(org_id) => Some(members::applications(
                    conn, &identity, &user, &actor, org_id, page,
                )?),
                None => None,
            };
            Ok((choice, list))
        })
        .await?;
    let lang = staff.lang;
    let title = lang.t("入会审核", "Applications");
    let body = match (choice.current, list) {
        (Some(org_id), Some(list)) => html! {
            (choice.picker(lang, "/console/applications"))
            (table(&staff, org_id, &list))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(&staff, Section::Applications, title, body))
}

fn table(staff: &Staff, org_id: i64, list: &Paged<MemberRow>) -> Markup {
    let lang = staff.lang;
    html! {
        @if list.items.is_empty() {
            p.muted { (lang.t("没有待审核的申请。", "No application is waiting.")) }
        } @else {
            form method="post" action=(format!("/console/applications/approve?org={org_id}")) id="bulk" {
                (csrf(staff))
                div.table { table {
                    thead { tr {
                        th { (lang.t("选择", "Pick")) }
                        th { (lang.t("姓名", "Name")) } th { (lang.t("手机", "Phone")) }
                        th { (lang.t("职业 / 平台", "Occupation / platform")) } th { (lang.t("组织", "Org")) }
                        th { (lang.t("申请时间", "Applied")) } th { (lang.t("处理", "Decide")) }
                    } }
                    tbody {
                        @for row in &list.items { (application_row(staff, row)) }
                    }
                } }
                p.actions { button type="submit" { (lang.t("通过所选申请", "Approve the ticked")) } }
            }
            // Each row's own forms live outside the bulk form (forms do not nest); the row's
            // buttons and reason field point at them with `form=`.
            @for row in &list.items { (row_forms(staff, org_id, row.membership_id)) }
        }
        @if let Some(next) = &list.next_cursor {
            p.pager { a href=(format!("/console/applications?org={org_id}&cursor={next}")) {
                (lang.t("下一页", "Next page")) } }
        }
    }
}

fn application_row(staff: &Staff, row: &MemberRow) -> Markup {
    let lang = staff.lang;
    let id = row.membership_id;
    html! {
        tr data-application=(id) {
            td { input type="checkbox" name="id" value=(id) aria-label=(lang.t("选择", "Pick")); }
            td { (row.legal_name.as_deref().unwrap_or("—")) }
            td { (row.phone_masked.as_deref().unwrap_or("—")) }
            td { (labels::occupation(lang, row.occupation)) " · " (row.platform) }
            td { (row.org.name) }
            td { (layout::when(row.applied_at)) }
            td {
                div.actions {
                    button type="submit" form=(format!("approve-{id}")) { (lang.t("通过", "Approve")) }
                    input type="text" name="reason" form=(format!("reject-{id}")) maxlength="200"
                        placeholder=(lang.t("不通过的原因", "Reason for rejecting")) required;
                    button.secondary type="submit" form=(format!("reject-{id}")) { (lang.t("不通过", "Reject")) }
                }
            }
        }
    }
}

fn row_forms(staff: &Staff, org_id: i64, id: i64) -> Markup {
    html! {
        form method="post" id=(format!("approve-{id}"))
            action=(format!("/console/applications/{id}/approve?org={org_id}")) { (csrf(staff)) }
        form method="post" id=(format!("reject-{id}"))
            action=(format!("/console/applications/{id}/reject?org={org_id}")) { (csrf(staff)) }
    }
}

#[derive(Deserialize)]
pub struct Back {
    org: Option<i64>,
}

fn back_to_queue(staff: &Staff, org: Option<i64>, message: &str) -> HttpResponse {
    let to = match org {
        Some(org) => format!("/console/applications?org={org}"),
        None => "/console/applications".to_owned(),
    };
    staff.back_to(to, message)
}

async fn approve_one(
    req: HttpRequest,
    id: web::Path<i64>,
    back: web::Query<Back>,
    submitted: Submitted<Empty>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let staff = submitted.staff;
    let message = match approve(&db, &staff, id.into_inner()).await {
        Ok(()) => staff.lang.t("已通过。", "Approved.").to_owned(),
        Err(e) => e.code().detail(staff.lang).to_owned(),
    };
    Ok(back_to_queue(&staff, back.org, &message))
}

async fn approve(db: &Db, staff: &Staff, id: i64) -> Result<(), Error> {
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    db.write(move |conn| applications::approve(conn, &user, &actor, id))
        .await
        .map(drop)
}

/// Each ticked application is approved on its own, so one already decided elsewhere does not
/// stop the rest; the message counts both.
async fn approve_ticked(
    req: HttpRequest,
    back: web::Query<Back>,
    submitted: Submitted<Empty>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let ids: Vec<i64> = submitted
        .all("id")
        .map(|v| {
            v.parse()
                .map_err(|_| Error::invalid(ErrorCode::InvalidField, "id"))
        })
        .collect::<Result<_, _>>()?;
    let staff = submitted.staff;
    let (mut approved, mut refused) = (0, 0);
    for id in ids {
        match approve(&db, &staff, id).await {
            Ok(()) => approved += 1,
            Err(e) if e.code().status().is_server_error() => return Err(e.into()),
            Err(_) => refused += 1,
        }
    }
    let message = match (staff.lang, refused) {
        _ if approved + refused == 0 => staff
            .lang
            .t(
                "请先勾选要通过的申请。",
                "Tick the applications to approve first.",
            )
            .to_owned(),
        (Lang::ZhCn, 0) => format!("已通过 {approved} 份申请。"),
        (Lang::En, 0) => format!("{approved} approved."),
        (Lang::ZhCn, _) => {
            format!("已通过 {approved} 份申请；{refused} 份未能通过（已被处理或不在您的范围内）。")
        }
        (Lang::En, _) => format!(
            "{approved} approved; {refused} could not be (already decided, or outside your orgs)."
        ),
    };
    Ok(back_to_queue(&staff, back.org, &message))
}

#[derive(Deserialize)]
pub struct RejectForm {
    reason: String,
}

async fn reject_one(
    req: HttpRequest,
    id: web::Path<i64>,
    back: web::Query<Back>,
    submitted: Submitted<RejectForm>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let Submitted { staff, form, .. } = submitted;
    let id = id.into_inner();
    let outcome = match Text::<200>::parse(&form.reason) {
        None => Err(Error::invalid(ErrorCode::InvalidField, "reason")),
        Some(reason) => {
            let (user, actor) = (staff.user.clone(), staff.actor.clone());
            let reason = reason.into_inner();
            db.write(move |conn| applications::reject(conn, &user, &actor, id, &reason))
                .await
                .map(drop)
        }
    };
    let message = match outcome {
        Ok(()) => staff.lang.t("已设为不通过。", "Rejected.").to_owned(),
        Err(e) => e.code().detail(staff.lang).to_owned(),
    };
    Ok(back_to_queue(&staff, back.org, &message))
}
