//! Broadcasts: write to the members of an org's subtree, narrowed by occupation, platform or a
//! program; see how many it reaches first, then send; the org's broadcasts so far. The same
//! use cases as `/v1/admin/orgs/{id}/broadcasts`.

use actix_web::{web, HttpRequest, HttpResponse};
use benefits::broadcasts::{self, Audience, BroadcastView, NewBroadcast};
use benefits::programs::{self, ProgramFilter, ProgramSummary};
use maud::{html, Markup};
use membership::vocab::Occupation;
use platform::pagination::{Cursor, PageQuery, Paged};
use platform::text::Text;
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice};
use crate::errors::{refusal_text, PageResult};
use crate::forms::{optional, Submitted};
use crate::i18n::Pick;
use crate::labels;
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/broadcasts", web::get().to(list))
        .route("/broadcasts", web::post().to(submit));
}

#[derive(Deserialize)]
pub struct ListQuery {
    org: Option<i64>,
    cursor: Option<Cursor>,
}

/// What the form holds, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct Draft {
    org: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    occupation: Option<String>,
    platform: Option<String>,
    program_id: Option<String>,
    /// `preview` (count, then confirm) or `send`.
    step: Option<String>,
}

impl Draft {
    fn audience(&self) -> Result<Audience, Error> {
        let platform = match self.platform.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(
                Text::parse(p)
                    .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "platform"))?,
            ),
        };
        Ok(Audience {
            occupation: optional::<Occupation>(&self.occupation, "occupation")?,
            platform,
            program_id: optional(&self.program_id, "program_id")?,
        })
    }

    fn broadcast(&self) -> Result<NewBroadcast, Error> {
        let invalid = |field| Error::invalid(ErrorCode::InvalidField, field);
        Ok(NewBroadcast {
            title: Text::parse(&self.title).ok_or_else(|| invalid("title"))?,
            body: Text::parse(&self.body).ok_or_else(|| invalid("body"))?,
            audience: self.audience()?,
        })
    }
}

async fn list(req: HttpRequest, staff: Staff, query: web::Query<ListQuery>) -> PageResult {
    let ListQuery { org, cursor } = query.into_inner();
    page(&req, staff, org, cursor, None).await
}

/// The page: the form (filled with `draft` and its reach when previewing) and the list.
async fn page(
    req: &HttpRequest,
    staff: Staff,
    org: Option<i64>,
    cursor: Option<Cursor>,
    draft: Option<(Draft, i64)>,
) -> PageResult {
    let db = app_data::<Db>(req)?;
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page();
    let user = staff.user.clone();
    let (choice, loaded) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &user, org)?;
            let Some(org) = choice.current else {
                return Ok((choice, None));
            };
            let sent = broadcasts::list(conn, &user, org, page)?;
            let first = PageQuery::default().page();
            let programs = programs::list(conn, &user, org, ProgramFilter::default(), first)?;
            Ok((choice, Some((sent, programs))))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, loaded) {
        (Some(org), Some((sent, programs))) => html! {
            (choice.picker(lang, "/console/broadcasts"))
            (form(&staff, org, &programs.items, draft.as_ref()))
            (table(&staff, org, &sent, &programs.items))
        },
        _ => no_org(lang),
    };
    let title = lang.t("群发通知", "Broadcasts");
    Ok(layout::console(&staff, Section::Broadcasts, title, body))
}

fn form(
    staff: &Staff,
    org: i64,
    programs: &[ProgramSummary],
    draft: Option<&(Draft, i64)>,
) -> Markup {
    let lang = staff.lang;
    let d = draft.map(|(d, _)| d);
    let value = |f: fn(&Draft) -> Option<&str>| d.and_then(f).unwrap_or_default().to_owned();
    let occupation = value(|d| d.occupation.as_deref());
    let program = value(|d| d.program_id.as_deref());
    html! {
        h2 { (lang.t("写一条通知", "New broadcast")) }
        p.muted { (lang.t("发送到本组织及下级组织在册会员的应用消息中心（不发短信），每个组织每天最多 3 条。",
            "Goes to the in-app inbox (no SMS) of the active members of this org and those below; at most 3 a day per org.")) }
        form.stack method="post" action=(format!("/console/broadcasts?org={org}")) id="broadcast" {
            (csrf(staff))
            input type="hidden" name="org" value=(org);
            label { (lang.t("标题", "Title"))
                input type="text" name="title" maxlength="40" required value=(value(|d| Some(&d.title))); }
            label { (lang.t("内容", "Text"))
                textarea name="body" maxlength="500" rows="4" required { (value(|d| Some(&d.body))) } }
            label { (lang.t("职业", "Occupation"))
                select name="occupation" {
                    option value="" { (lang.t("全部", "Any")) }
                    @for o in Occupation::ALL {
                        option value=(o.as_str()) selected[occupation == o.as_str()] { (labels::occupation(lang, *o)) }
                    }
                }
            }
            label { (lang.t("平台（可不填）", "Platform (optional)"))
                input type="text" name="platform" maxlength="50" value=(value(|d| d.platform.as_deref())); }
            label { (lang.t("参加过的活动（可不选）", "Took part in (optional)"))
                select name="program_id" {
                    option value="" { (lang.t("不限", "Any")) }
                    @for p in programs {
                        option value=(p.id) selected[program == p.id.to_string()] { (p.title) }
                    }
                }
            }
            @if let Some((_, reach)) = draft {
                p id="reach" data-recipients=(reach) {
                    (lang.t("将发送给 ", "Will reach ")) strong { (reach) } (lang.t(" 位会员。", " members."))
                }
                div.actions {
                    button type="submit" name="step" value="send" { (lang.t("确认发送", "Send")) }
                    button.secondary type="submit" name="step" value="preview" { (lang.t("重新计算人数", "Count again")) }
                }
            } @else {
                button type="submit" name="step" value="preview" { (lang.t("预览发送人数", "Count recipients")) }
            }
        }
    }
}

fn table(
    staff: &Staff,
    org: i64,
    sent: &Paged<BroadcastView>,
    programs: &[ProgramSummary],
) -> Markup {
    let lang = staff.lang;
    if sent.items.is_empty() {
        return html! { p.muted { (lang.t("还没有发送过通知。", "Nothing sent yet.")) } };
    }
    let program_title = |id: i64| {
        programs
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| format!("#{id}"), |p| p.title.clone())
    };
    html! {
        h2 { (lang.t("已发送", "Sent")) }
        div.table { table id="broadcasts" {
            thead { tr {
                th { (lang.t("时间", "When")) } th { (lang.t("标题", "Title")) }
                th { (lang.t("范围", "Audience")) } th { (lang.t("人数", "Reached")) }
            } }
            tbody { @for b in &sent.items {
                tr data-broadcast=(b.id) {
                    td { (layout::when(b.created_at)) }
                    td { (b.title) }
                    td {
                        @if let Some(o) = b.audience.occupation { (labels::occupation(lang, o)) " " }
                        @if let Some(p) = &b.audience.platform { (p.to_string()) " " }
                        @if let Some(p) = b.audience.program_id { (program_title(p)) }
                    }
                    td { (b.recipients) }
                }
            } }
        } }
        @if let Some(next) = &sent.next_cursor {
            p.pager { a href=(format!("/console/broadcasts?org={org}&cursor={next}")) { (lang.t("下一页", "Next page")) } }
        }
    }
}

/// Previewing shows the page again with the reach; sending goes back to the list with a
/// message. A refusal (a blank title, the day's limit) is the message.
async fn submit(req: HttpRequest, submitted: Submitted<Draft>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let Submitted { staff, form, .. } = submitted;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let org = form.org;
    let lang = staff.lang;
    if form.step.as_deref() != Some("send") {
        let reach = match form.audience() {
            Ok(audience) => {
                let user = user.clone();
                db.run(move |conn| broadcasts::preview(conn, &user, org, &audience))
                    .await
            }
            Err(e) => Err(e),
        };
        return match reach {
            Ok(reach) => page(&req, staff, Some(org), None, Some((form, reach.recipients))).await,
            Err(e) => Ok(back(&staff, org, &refusal_text(lang, &e))),
        };
    }
    let outcome = match form.broadcast() {
        Ok(new) => {
            db.write(move |conn| broadcasts::send(conn, &user, &actor, org, &new))
                .await
        }
        Err(e) => Err(e),
    };
    let message = match outcome {
        Ok(sent) => format!(
            "{}{}{}",
            lang.t("已发送给 ", "Sent to "),
            sent.recipients,
            lang.t(" 位会员。", " members.")
        ),
        Err(e) => refusal_text(lang, &e),
    };
    Ok(back(&staff, org, &message))
}

fn back(staff: &Staff, org: i64, message: &str) -> HttpResponse {
    staff.back_to(format!("/console/broadcasts?org={org}"), message)
}
