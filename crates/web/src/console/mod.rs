//! The staff console: one module per section, each page a thin HTTP shell around the use case
//! the JSON route calls too.

pub mod applications;
pub mod audit;
pub mod broadcasts;
pub mod case_rota;
pub mod case_steps;
pub mod cases;
pub mod grant_batches;
pub mod grant_program;
pub mod grants;
pub mod home;
pub mod join_codes;
pub mod members;
pub mod orgs;
pub mod programs;
pub mod reports;
pub mod scan;
pub mod sessions;
pub mod sign_in;
pub mod station;
pub mod stations;

use actix_web::middleware::from_fn;
use actix_web::web;
use identity::AuthUser;
use maud::{html, Markup};
use membership::orgs::OrgNode;
use platform::pagination::Page;
use platform::{DbConn, Result};
use serde::Deserialize;

use crate::i18n::{Lang, Pick};
use crate::{errors, forms};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/lang/{to}", web::get().to(sign_in::switch_language));
    cfg.service(
        web::scope("/console")
            .wrap(from_fn(errors::render))
            .app_data(forms::limit())
            .route("", web::get().to(home::page))
            .route("/sign-in", web::get().to(sign_in::password_page))
            .route("/sign-in", web::post().to(sign_in::password_submit))
            .route("/verify", web::get().to(sign_in::code_page))
            .route("/verify", web::post().to(sign_in::code_submit))
            .route("/sign-out", web::post().to(sign_in::sign_out))
            .configure(applications::routes)
            .configure(members::routes)
            .configure(join_codes::routes)
            .configure(broadcasts::routes)
            // Before cases: `/cases/rota` and `/cases/stats` would match its `/cases/{id}`.
            .configure(case_rota::routes)
            .configure(case_steps::routes)
            .configure(cases::routes)
            // Before grants: `/grants/batches`, `/grants/new`, `/grants/notice` and
            // `/grants/stats` would match its `/grants/{id}`.
            .configure(grant_batches::routes)
            .configure(grant_program::routes)
            .configure(grants::routes)
            .configure(orgs::routes)
            // Before programs: `/programs/{id}/sessions` would match its `/programs/{id}/{step}`.
            .configure(sessions::routes)
            .configure(programs::routes)
            .configure(scan::routes)
            // Before station: `/stations/import` would match its `/stations/{id}`.
            .configure(stations::routes)
            .configure(station::routes)
            .configure(audit::routes)
            .configure(reports::routes),
    );
}

/// `?org=`: the org a page is about.
#[derive(Debug, Default, Deserialize)]
pub struct OrgQuery {
    pub org: Option<i64>,
    pub cursor: Option<String>,
}

/// Orgs offered by the org picker; deeper trees are reached from the org tree page.
const PICKER_ORGS: i64 = 500;

/// The orgs a staff member may act on (tree order), and the one a page is about: `asked`,
/// else the first of the tree (their first grant; for an admin the first top-level org).
/// None when they have no org at all.
pub struct OrgChoice {
    pub orgs: Vec<OrgNode>,
    pub current: Option<i64>,
}

impl OrgChoice {
    pub fn load(conn: &mut DbConn, user: &AuthUser, asked: Option<i64>) -> Result<OrgChoice> {
        let page = Page {
            limit: PICKER_ORGS,
            before: None,
        };
        let orgs = membership::orgs::tree(conn, user, page)?.items;
        let current = asked.or_else(|| orgs.first().map(|node| node.id));
        Ok(OrgChoice { orgs, current })
    }

    /// A select that reloads `action` for another org.
    pub fn picker(&self, lang: Lang, action: &str) -> Markup {
        html! {
            form.inline method="get" action=(action) id="org-picker" {
                label { (lang.t("组织", "Org"))
                    select name="org" {
                        @for node in &self.orgs {
                            option value=(node.id) selected[Some(node.id) == self.current] {
                                (indent(node.depth)) (node.name)
                            }
                        }
                    }
                }
                button.secondary type="submit" { (lang.t("切换", "Show")) }
            }
        }
    }
}

/// What a page about one org says to staff without any.
pub fn no_org(lang: Lang) -> Markup {
    html! { p.muted { (lang.t("您还没有负责的组织。", "You are not staff of any org yet.")) } }
}

pub(crate) fn indent(depth: i32) -> String {
    "\u{3000}".repeat(depth.clamp(0, 8) as usize)
}
