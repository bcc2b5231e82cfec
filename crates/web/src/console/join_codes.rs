//! Join codes: the posters' codes of an org with their use counts; create one, revoke one,
//! download its poster (PDF or PNG, see [`crate::posters`]) or its bare QR for printing.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use maud::{html, Markup};
use membership::join_codes::{self, CreateJoinCode, JoinCodeView};
use membership::MembershipConfig;
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::qr;
use platform::text::Text;
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice};
use crate::errors::{refusal_text, PageResult};
use crate::forms::{optional, Empty, Submitted};
use crate::i18n::Pick;
use crate::layout::{self, csrf, Section};
use crate::posters::{self, Format};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/join-codes", web::get().to(list))
        .route("/join-codes", web::post().to(create))
        .route("/join-codes/{code}/revoke", web::post().to(revoke))
        .route("/join-codes/{code}/qr.png", web::get().to(qr_image))
        .route("/join-codes/{code}/poster.pdf", web::get().to(poster_pdf))
        .route("/join-codes/{code}/poster.png", web::get().to(poster_png));
}

#[derive(Deserialize)]
pub struct ListQuery {
    org: Option<i64>,
    cursor: Option<Cursor>,
}

async fn list(req: HttpRequest, staff: Staff, query: web::Query<ListQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let config = app_data::<MembershipConfig>(&req)?;
    let ListQuery { org, cursor } = query.into_inner();
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page();
    let user = staff.user.clone();
    let (choice, codes) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, org)?;
            let codes = match choice.current {
                Some(org) => Some(join_codes::list(conn, &user, org, page, &config.base_url)?),
                None => None,
            };
            Ok((choice, codes))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, codes) {
        (Some(org), Some(codes)) => html! {
            (choice.picker(lang, "/console/join-codes"))
            (create_form(&staff, org))
            (table(&staff, org, &codes))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::JoinCodes,
        lang.t("入会码", "Join codes"),
        body,
    ))
}

fn create_form(staff: &Staff, org: i64) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("新建入会码", "New join code")) }
        form.stack method="post" action=(format!("/console/join-codes?org={org}")) id="new-join-code" {
            (csrf(staff))
            input type="hidden" name="org" value=(org);
            label { (lang.t("用途（印在海报上）", "What it is for (printed on the poster)"))
                input type="text" name="label" maxlength="60" required; }
            label { (lang.t("有效期至（可不填）", "Valid until (optional)"))
                input type="date" name="expires_on"; }
            label { (lang.t("最多使用次数（可不填）", "Most joins (optional)"))
                input type="number" name="max_uses" min="1" max="1000000"; }
            label.check { input type="checkbox" name="auto_approve" value="true";
                (lang.t("扫码入会无需审核", "Joins are active without review")) }
            button type="submit" { (lang.t("创建", "Create")) }
        }
    }
}

fn table(staff: &Staff, org: i64, codes: &Paged<JoinCodeView>) -> Markup {
    let lang = staff.lang;
    if codes.items.is_empty() {
        return html! { p.muted { (lang.t("还没有入会码。", "No join code yet.")) } };
    }
    html! {
        h2 { (lang.t("入会码列表", "Codes")) }
        div.table { table {
            thead { tr {
                th { (lang.t("用途", "Label")) } th { (lang.t("码", "Code")) }
                th { (lang.t("已用 / 上限", "Used / limit")) } th { (lang.t("有效期至", "Until")) }
                th { (lang.t("审核", "Review")) } th { (lang.t("状态", "State")) } th { (lang.t("操作", "Actions")) }
            } }
            tbody {
                @for code in &codes.items {
                    tr data-code=(code.code) {
                        td { (code.label) }
                        td { code { (code.code) } }
                        td { (code.uses) " / " (code.max_uses.map_or("∞".to_owned(), |n| n.to_string())) }
                        td { (code.expires_at.map(layout::when).unwrap_or_else(|| "—".to_owned())) }
                        td { (if code.auto_approve { lang.t("免审核", "none") } else { lang.t("需审核", "required") }) }
                        td { (if code.revoked { lang.t("已停用", "revoked") } else { lang.t("有效", "live") }) }
                        td { div.actions {
                            @if !code.revoked {
                                a.button href=(format!("/console/join-codes/{}/poster.pdf", code.code))
                                    data-poster="pdf" { (lang.t("下载海报（PDF）", "Poster (PDF)")) }
                                a.button.secondary href=(format!("/console/join-codes/{}/poster.png", code.code))
                                    data-poster="png" { (lang.t("下载海报（PNG）", "Poster (PNG)")) }
                            }
                            a.button.secondary href=(format!("/console/join-codes/{}/qr.png", code.code))
                                download=(format!("join-{}.png", code.code)) { (lang.t("仅二维码", "QR only")) }
                            @if !code.revoked {
                                form method="post" action=(format!("/console/join-codes/{}/revoke?org={org}", code.code)) {
                                    (csrf(staff))
                                    button.secondary type="submit" { (lang.t("停用", "Revoke")) }
                                }
                            }
                        } }
                    }
                }
            }
        } }
        @if let Some(next) = &codes.next_cursor {
            p.pager { a href=(format!("/console/join-codes?org={org}&cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

#[derive(Deserialize)]
pub struct NewCode {
    org: i64,
    label: String,
    expires_on: Option<String>,
    max_uses: Option<String>,
    auto_approve: Option<bool>,
}

impl NewCode {
    /// The API's body for this form: a date means the end of that day in Asia/Shanghai.
    fn body(&self) -> Result<CreateJoinCode, Error> {
        let label = Text::<60>::parse(&self.label)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "label"))?;
        let expires_on: Option<NaiveDate> = optional(&self.expires_on, "expires_on")?;
        let expires_at = expires_on
            .and_then(|day| day.succ_opt())
            .map(|next| platform::clock::shanghai_midnight(next).and_utc());
        Ok(CreateJoinCode {
            label,
            expires_at,
            max_uses: optional(&self.max_uses, "max_uses")?,
            auto_approve: self.auto_approve.unwrap_or(false),
        })
    }
}

fn back(staff: &Staff, org: Option<i64>, message: &str) -> HttpResponse {
    let to = org.map_or("/console/join-codes".to_owned(), |o| {
        format!("/console/join-codes?org={o}")
    });
    staff.back_to(to, message)
}

async fn create(req: HttpRequest, submitted: Submitted<NewCode>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let config = app_data::<MembershipConfig>(&req)?;
    let Submitted { staff, form, .. } = submitted;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let org = form.org;
    let outcome = match form.body().and_then(|b| b.validate(org, user.account_id)) {
        Ok(new) => {
            db.write(move |conn| join_codes::issue(conn, &user, &actor, new, &config.base_url))
                .await
        }
        Err(e) => Err(e),
    };
    let lang = staff.lang;
    let message = match outcome {
        Ok(view) => format!("{}{}", lang.t("已创建入会码 ", "Created code "), view.code),
        Err(e) => refusal_text(lang, &e),
    };
    Ok(back(&staff, Some(org), &message))
}

#[derive(Deserialize)]
pub struct Back {
    org: Option<i64>,
}

async fn revoke(
    req: HttpRequest,
    code: web::Path<String>,
    query: web::Query<Back>,
    submitted: Submitted<Empty>,
) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let config = app_data::<MembershipConfig>(&req)?;
    let staff = submitted.staff;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let code = code.into_inner();
    db.write(move |conn| join_codes::revoke(conn, &user, &actor, &code, &config.base_url))
        .await?;
    let message = staff.lang.t("已停用。", "Revoked.");
    Ok(back(&staff, query.org, message))
}

/// The bare QR image; the same use case as the API's QR image.
async fn qr_image(req: HttpRequest, staff: Staff, code: web::Path<String>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let config = app_data::<MembershipConfig>(&req)?;
    let user = staff.user;
    let code = code.into_inner();
    let url = db
        .run(move |conn| join_codes::poster_url(conn, &user, &code, &config.base_url))
        .await?;
    Ok(qr::poster(&url, qr::Format::Png, qr::Keep::Day)?)
}

async fn poster_pdf(req: HttpRequest, staff: Staff, code: web::Path<String>) -> PageResult {
    poster(req, staff, code.into_inner(), Format::Pdf).await
}

async fn poster_png(req: HttpRequest, staff: Staff, code: web::Path<String>) -> PageResult {
    poster(req, staff, code.into_inner(), Format::Png).await
}

/// The A4 poster to print; the same use case as the API's.
async fn poster(req: HttpRequest, staff: Staff, code: String, format: Format) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let base = app_data::<MembershipConfig>(&req)?.base_url.clone();
    let user = staff.user;
    let poster = db
        .run(move |conn| posters::join(conn, &user, &code, &base))
        .await?;
    Ok(posters::download(poster, format).await?)
}
