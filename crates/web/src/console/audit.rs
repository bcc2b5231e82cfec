//! The audit log as a page: who did what to which record, from where and when, in the org's
//! subtree (an admin sees every entry). The console's own actions are in it like the API's,
//! since both call the same use cases, which write the entries.

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use identity::phone::Phone;
use identity::Identity;
use maud::{html, Markup};
use membership::audit::{self, AuditQuery};
use platform::audit::AuditEntry;
use platform::pagination::{Cursor, Paged};
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::console::{no_org, OrgChoice};
use crate::errors::PageResult;
use crate::forms::optional;
use crate::i18n::{Lang, Pick};
use crate::layout::{self, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(page));
}

#[derive(Deserialize)]
pub struct LogQuery {
    org: Option<i64>,
    action: Option<String>,
    /// The acting staff member's mobile number.
    phone: Option<String>,
    record: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<Cursor>,
}

impl LogQuery {
    /// The filters as they go back into links and the form (empty fields dropped).
    fn kept(&self) -> Vec<(&'static str, String)> {
        let fields = [
            ("action", &self.action),
            ("phone", &self.phone),
            ("record", &self.record),
            ("from", &self.from),
            ("to", &self.to),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| {
                let v = v.as_deref()?.trim();
                (!v.is_empty()).then(|| (k, v.to_owned()))
            })
            .collect()
    }

    fn get(&self, name: &str) -> Option<String> {
        self.kept()
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

async fn page(req: HttpRequest, staff: Staff, query: web::Query<LogQuery>) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
    let query = query.into_inner();
    let (filter, page) = AuditQuery {
        action: query.get("action"),
        actor: None,
        record: query.get("record"),
        from: optional(&query.get("from"), "from")?,
        to: optional(&query.get("to"), "to")?,
        limit: None,
        cursor: query.cursor,
    }
    .validate()?;
    let phone = match query.get("phone") {
        Some(p) => {
            Some(Phone::parse(&p).ok_or_else(|| Error::invalid(ErrorCode::InvalidPhone, "phone"))?)
        }
        None => None,
    };
    let (user, org) = (staff.user.clone(), query.org);
    let (choice, entries) = db
        .run(move |conn| {
            let mut filter = filter;
            if let Some(phone) = phone {
                let account = identity
                    .credentials(conn, &phone)?
                    .ok_or_else(|| Error::new(ErrorCode::AccountNotFound))?;
                filter.actor = Some(account.account_id);
            }
            let choice = OrgChoice::load(conn, &user, org)?;
            let entries = match choice.current {
                Some(org) => Some(audit::list(conn, &user, org, &filter, page)?),
                None => None,
            };
            Ok((choice, entries))
        })
        .await?;
    let lang = staff.lang;
    let body = match (choice.current, entries) {
        (Some(org), Some(entries)) => html! {
            (filter_form(lang, org, &query))
            (choice.picker(lang, "/console/audit"))
            (table(&staff, org, &query, &entries))
        },
        _ => no_org(lang),
    };
    Ok(layout::console(
        &staff,
        Section::Audit,
        lang.t("操作日志", "Audit log"),
        body,
    ))
}

fn filter_form(lang: Lang, org: i64, query: &LogQuery) -> Markup {
    html! {
        form.inline method="get" action="/console/audit" id="audit-filter" {
            input type="hidden" name="org" value=(org);
            label { (lang.t("操作（前缀）", "Action (prefix)"))
                input type="text" name="action" value=[query.get("action")] placeholder="membership."; }
            label { (lang.t("操作人手机号", "Staff member's mobile"))
                input type="tel" name="phone" value=[query.get("phone")] maxlength="11"; }
            label { (lang.t("记录", "Record"))
                input type="text" name="record" value=[query.get("record")] placeholder="membership:123"; }
            label { (lang.t("从", "From")) input type="date" name="from" value=[query.get("from")]; }
            label { (lang.t("至", "To")) input type="date" name="to" value=[query.get("to")]; }
            button.secondary type="submit" { (lang.t("筛选", "Filter")) }
        }
    }
}

fn table(staff: &Staff, org: i64, filters: &LogQuery, entries: &Paged<AuditEntry>) -> Markup {
    let lang = staff.lang;
    let next = entries.next_cursor.as_ref().map(|cursor| {
        let mut query = vec![("org", org.to_string()), ("cursor", cursor.clone())];
        query.extend(filters.kept());
        format!(
            "/console/audit?{}",
            serde_urlencoded::to_string(query).unwrap_or_default()
        )
    });
    html! {
        div.table { table {
            thead { tr {
                th { (lang.t("时间", "When")) } th { (lang.t("操作人", "Who")) } th { (lang.t("地址", "From")) }
                th { (lang.t("操作", "Action")) } th { (lang.t("记录", "Record")) } th { (lang.t("涉及会员", "Member")) }
            } }
            tbody {
                @for e in &entries.items {
                    tr data-action=(e.action) {
                        td { (layout::when(e.at)) }
                        td { @match e.actor_account_id { Some(id) => { "#" (id) }, None => (lang.t("系统", "system")) } }
                        td { (e.actor_address) }
                        td { code { (e.action) } }
                        td { code { (e.record) } }
                        td { @if let Some(id) = e.subject_account_id { "#" (id) } }
                    }
                }
            }
        } }
        @if let Some(next) = next {
            p.pager { a href=(next) { (lang.t("更早的记录", "Older entries")) } }
        }
    }
}
