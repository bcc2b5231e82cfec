//! The console's home: the staff member's orgs and what waits for them there: applications to
//! decide, today's health-check sessions, running programs with their stock, unresolved
//! messages and fault reports at the stations.

use actix_web::HttpRequest;
use benefits::health_sessions::{self, SessionView};
use benefits::programs::{self, ProgramFilter, ProgramSummary};
use benefits::vocab::ProgramStatus;
use maud::{html, Markup};
use membership::orgs::OrgNode;
use platform::pagination::{Page, Paged};
use platform::{Db, DbConn, Result};
use stations::feedback::{self, Board, BoardQuery, FeedbackView};
use stations::vocab::FeedbackStatus;

use crate::console::OrgChoice;
use crate::errors::PageResult;
use crate::i18n::{Lang, Pick};
use crate::layout::{self, Section};
use crate::session::{app_data, Staff};

/// What waits in the staff member's first org (their top grant).
struct Waiting {
    org: i64,
    sessions: Vec<SessionView>,
    programs: Paged<ProgramSummary>,
    messages: Paged<FeedbackView>,
}

/// Items of each list on the home page; the section pages have them all.
const SHOWN: i64 = 10;

fn waiting(conn: &mut DbConn, staff: &Staff, org: i64) -> Result<Waiting> {
    let user = &staff.user;
    let first = Page {
        limit: SHOWN,
        before: None,
    };
    let running = ProgramFilter {
        status: Some(ProgramStatus::Published),
    };
    let open = BoardQuery {
        status: Some(FeedbackStatus::Open),
        kind: None,
        limit: None,
        cursor: None,
    };
    Ok(Waiting {
        org,
        sessions: health_sessions::on_day(conn, user, org, platform::clock::today())?,
        programs: programs::list(conn, user, org, running, first)?,
        messages: feedback::staff_board(conn, user, Board::Subtree(org), open)?,
    })
}

pub async fn page(req: HttpRequest, staff: Staff) -> PageResult {
    let db = app_data::<Db>(&req)?;
    let staff = std::sync::Arc::new(staff);
    let reader = staff.clone();
    let (choice, waiting) = db
        .run(move |conn| {
            let choice = OrgChoice::load(conn, &reader.user, None)?;
            let waiting = match choice.current {
                Some(org) => Some(waiting(conn, &reader, org)?),
                None => None,
            };
            Ok((choice, waiting))
        })
        .await?;
    let lang = staff.lang;
    let tops: Vec<&OrgNode> = choice.orgs.iter().filter(|n| n.depth == 0).collect();
    let body = html! {
        h2 { (lang.t("我负责的组织", "My orgs")) }
        @if tops.is_empty() {
            p.muted { (lang.t("您还没有负责的组织。", "You are not staff of any org yet.")) }
        }
        div.cards { @for org in &tops { (org_card(lang, org)) } }
        @if let Some(w) = &waiting { (today(lang, w)) }
    };
    Ok(layout::console(
        &staff,
        Section::Home,
        lang.t("首页", "Home"),
        body,
    ))
}

fn org_card(lang: Lang, org: &OrgNode) -> Markup {
    html! {
        div.card data-org=(org.id) {
            strong { (org.name) }
            p {
                a href=(format!("/console/applications?org={}", org.id)) {
                    span.figure data-figure="pending" { (org.subtree_counts.pending_applications) }
                    " " (lang.t("份入会申请待审核", "applications waiting"))
                }
            }
            p.muted { (lang.t("在会会员 ", "Active members: ")) (org.subtree_counts.active_members) }
        }
    }
}

fn today(lang: Lang, w: &Waiting) -> Markup {
    let more = |paged: bool| if paged { "+" } else { "" };
    html! {
        h2 { (lang.t("今天的场次", "Today's sessions")) }
        @if w.sessions.is_empty() { p.muted { (lang.t("今天没有场次。", "None today.")) } }
        ul #today-sessions { @for s in &w.sessions {
            li { a href=(format!("/console/sessions/{}", s.id)) { (s.site_name) } " · "
                (layout::when(s.starts_at)) " · " (lang.t("剩余名额 ", "seats left ")) (s.seats_left) }
        } }
        h2 { (lang.t("进行中的活动", "Running programs")) }
        @if w.programs.items.is_empty() { p.muted { (lang.t("没有进行中的活动。", "None running.")) } }
        ul #running-programs { @for p in &w.programs.items {
            li { a href=(format!("/console/programs/{}", p.id)) { (p.title) }
                @if let (Some(left), Some(total)) = (p.stock_left, p.stock_total) {
                    " · " (lang.t("剩余 ", "left ")) (left) " / " (total) }
            }
        } }
        h2 { (lang.t("待处理的驿站留言", "Station messages waiting")) }
        p { a href=(format!("/console/stations?org={}", w.org)) {
            span.figure data-figure="messages" { (w.messages.items.len()) (more(w.messages.next_cursor.is_some())) }
            " " (lang.t("条未解决（含故障报告）", "unresolved (fault reports included)"))
        } }
    }
}
