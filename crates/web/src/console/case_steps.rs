//! The steps of handling an accepted case on its console page: assign a mediator of the rota,
//! record the agreement and its instalments, mark an instalment paid, refer the case, close it,
//! record the follow-up call. Each form posts to a handler that calls the use case the JSON
//! route calls, and returns to the case with what happened.

use actix_web::{web, HttpRequest};
use chrono::NaiveDate;
use maud::{html, Markup};
use platform::money::Fen;
use platform::text::{Prose, Text};
use platform::{Db, DbConn, Error, ErrorCode};
use rights::agreements::{self, InstalmentInput, SignAgreement};
use rights::cases::CaseDetail;
use rights::closing::{self, Close, FollowUp, Refer};
use rights::mediators::{self, AssignMediator, MediatorView};
use rights::meetings::{self, ScheduleMeeting};
use rights::vocab::{Agency, CaseState, Outcome, Venue};
use rights::{Rights, RightsConfig};
use serde::Deserialize;

use crate::errors::PageResult;
use crate::forms::{optional, Submitted};
use crate::i18n::{Lang, Pick};
use crate::labels;
use crate::layout::csrf;
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/cases/{id}/mediator", web::post().to(assign))
        .route("/cases/{id}/agreement", web::post().to(sign))
        .route(
            "/cases/{id}/instalments/{instalment}/paid",
            web::post().to(pay),
        )
        .route("/cases/{id}/refer", web::post().to(refer))
        .route("/cases/{id}/close", web::post().to(close))
        .route("/cases/{id}/follow-up", web::post().to(follow_up))
        .route("/cases/{id}/meetings", web::post().to(meet));
}

/// The forms of the steps the case's state allows; `others` accepted cases of its group the
/// staff may act on can take the mediator and the meeting too.
pub fn forms(staff: &Staff, case: &CaseDetail, rota: &[MediatorView], others: usize) -> Markup {
    let (lang, id) = (staff.lang, case.id);
    let action = |step: &str| format!("/console/cases/{id}/{step}");
    html! {
        @if case.state.is_handled() {
            h2 { (lang.t("指派调解员", "Mediator")) }
            @if rota.is_empty() {
                p.muted { (lang.t("调解员名册为空，请先在“调解员名册”中添加。", "The rota is empty: add mediators on the rota page first.")) }
            } @else {
                form.inline method="post" action=(action("mediator")) id="assign" {
                    (csrf(staff))
                    label { (lang.t("调解员", "Mediator")) select name="account_id" {
                        @for m in rota {
                            option value=(m.account_id) selected[case.mediator.as_ref().is_some_and(|c| c.account_id == m.account_id)] {
                                (m.phone_masked.as_deref().unwrap_or("—")) " · " (m.org.name)
                                @if m.on_duty_today { " · " (lang.t("今日值班", "on duty today")) }
                            }
                        }
                    } }
                    (with_group(lang, others))
                    button type="submit" { (lang.t("指派", "Assign")) }
                }
            }
        }
        @if case.state.is_handled() { (meeting_form(staff, id, others)) }
        @if case.state == CaseState::Accepted { (agree_or_refer(staff, id)) }
        @if let (CaseState::Agreed, Some(agreement)) = (case.state, &case.agreement) {
            h2 { (lang.t("登记到账", "Payments")) }
            div.actions { @for i in agreement.instalments.iter().filter(|i| i.paid_at.is_none()) {
                form method="post" action=(action(&format!("instalments/{}/paid", i.id))) {
                    (csrf(staff))
                    button type="submit" data-instalment=(i.id) {
                        (lang.t("第", "No. ")) (i.number) (lang.t(" 期已到账", " paid"))
                    }
                }
            } }
        }
        @if case.state.is_handled() {
            h2 { (lang.t("办结", "Close")) }
            form.stack method="post" action=(action("close")) id="close" {
                (csrf(staff))
                label { (lang.t("结果", "Outcome")) select name="outcome" {
                    @for o in [Outcome::Mediated, Outcome::Withdrawn, Outcome::Unresolved] {
                        option value=(o.as_str()) { (labels::outcome(lang, o)) }
                    }
                } }
                label { (lang.t("追回金额（元）", "Recovered (yuan)")) input type="text" name="recovered" inputmode="decimal" required; }
                label { (lang.t("告知申请人（可不填）", "Tell the claimants (optional)")) textarea name="note" maxlength="1000" rows="2" {} }
                button.secondary type="submit" { (lang.t("办结", "Close")) }
            }
        }
        @if case.closed_at.is_some() && case.state != CaseState::Declined && case.followed_up_at.is_none() {
            h2 { (lang.t("回访", "Follow-up")) }
            form.stack method="post" action=(action("follow-up")) id="follow-up" {
                (csrf(staff))
                label { (lang.t("满意度", "Satisfaction")) select name="rating" {
                    @for r in (1..=5).rev() { option value=(r) { (r) } }
                } }
                label { (lang.t("回访记录（可不填）", "Notes (optional)")) textarea name="note" maxlength="1000" rows="2" {} }
                button type="submit" { (lang.t("登记回访", "Record")) }
            }
        }
    }
}

/// The form of a mediation meeting.
fn meeting_form(staff: &Staff, id: i64, others: usize) -> Markup {
    let lang = staff.lang;
    html! {
        h2 { (lang.t("调解会议", "Meeting")) }
        form.stack method="post" action=(format!("/console/cases/{id}/meetings")) id="meeting" {
            (csrf(staff))
            label { (lang.t("时间", "When")) input type="datetime-local" name="starts_at" required; }
            label { (lang.t("方式", "Venue")) select name="venue" {
                @for v in Venue::ALL { option value=(v.as_str()) { (labels::venue(lang, *v)) } }
            } }
            label { (lang.t("地点或视频链接", "Place or video link")) input type="text" name="place" maxlength="200" required; }
            label.check { input type="checkbox" name="respondent_invited" value="true" checked; (lang.t("同时通知被申请人参加", "The respondent is invited too")) }
            (with_group(lang, others))
            button type="submit" { (lang.t("安排会议", "Schedule")) }
        }
    }
}

/// The box that takes a step to the whole group (调解一起案、化解一批纠纷), when it has others.
fn with_group(lang: Lang, others: usize) -> Markup {
    html! {
        @if others > 0 {
            label.check { input type="checkbox" name="with_group" value="true";
                (lang.t("同时用于该被申请人的其他 ", "Also for the other ")) (others)
                (lang.t(" 起已受理案件（合并调解）", " accepted cases against this respondent (group mediation)")) }
        }
    }
}

/// The forms of an accepted case: record the agreement, or refer it.
fn agree_or_refer(staff: &Staff, id: i64) -> Markup {
    let lang = staff.lang;
    let action = |step: &str| format!("/console/cases/{id}/{step}");
    html! {
    h2 { (lang.t("调解协议", "Agreement")) }
    form.stack method="post" action=(action("agreement")) id="agreement" {
        (csrf(staff))
        label { (lang.t("付款方", "Payer")) input type="text" name="payer" maxlength="100" required; }
        label { (lang.t("连带责任方（可不填）", "Jointly liable (optional)")) input type="text" name="jointly_liable" maxlength="100"; }
        label { (lang.t("分期（每行：到期日 金额（元），如 2027-01-15 2500）", "Instalments (a line each: due date and yuan, e.g. 2027-01-15 2500)"))
            textarea name="instalments" rows="3" required {} }
        button type="submit" { (lang.t("登记协议", "Record the agreement")) }
    }
    h2 { (lang.t("转交办理", "Refer")) }
    form.stack method="post" action=(action("refer")) id="refer" {
        (csrf(staff))
        label { (lang.t("转交部门", "Agency")) select name="agency" {
            @for a in Agency::ALL { option value=(a.as_str()) { (labels::agency(lang, *a)) } }
        } }
        label { (lang.t("统一答复", "The reply")) textarea name="reply" maxlength="1000" rows="3" required {} }
        button.secondary type="submit" { (lang.t("转交", "Refer")) }
    }
    }
}

/// The rota a case's mediator is chosen from: its org's and those above it.
pub fn rota_of(
    conn: &mut DbConn,
    identity: &identity::Identity,
    user: &identity::AuthUser,
    case: &CaseDetail,
) -> platform::Result<Vec<MediatorView>> {
    if !case.state.is_handled() {
        return Ok(Vec::new());
    }
    mediators::list(conn, identity, user, case.org.id)
}

pub(super) type Step = Box<
    dyn FnOnce(
            &mut DbConn,
            &RightsConfig,
            &platform::crypto::DataProtector,
            (&identity::AuthUser, &platform::audit::Actor),
        ) -> platform::Result<CaseDetail>
        + Send,
>;

/// Runs one step and returns to the case with what happened, in words.
pub(super) async fn run(
    req: &HttpRequest,
    staff: &Staff,
    id: i64,
    done: (&str, &str),
    step: Result<Step, Error>,
) -> PageResult {
    let (db, rights) = (app_data::<Db>(req)?, app_data::<Rights>(req)?);
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    let outcome = match step {
        Ok(step) => db
            .write(move |conn| {
                step(
                    conn,
                    &rights.config,
                    rights.files.protector(),
                    (&user, &actor),
                )
            })
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    staff.answer(format!("/console/cases/{id}"), done, outcome)
}

fn invalid(field: &'static str) -> Error {
    Error::invalid(ErrorCode::InvalidField, field)
}

fn prose<const MAX: usize>(
    text: &Option<String>,
    field: &'static str,
) -> Result<Option<Prose<MAX>>, Error> {
    optional::<String>(text, field)?
        .map(|t| Prose::parse(&t).ok_or_else(|| invalid(field)))
        .transpose()
}

#[derive(Deserialize)]
pub struct AssignForm {
    account_id: String,
    with_group: Option<String>,
}

async fn assign(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<AssignForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let with_group = form.with_group.is_some();
    let step = form
        .account_id
        .trim()
        .parse()
        .map_err(|_| invalid("account_id"))
        .map(|account_id| -> Step {
            Box::new(move |conn, config, protector, who| {
                mediators::assign(
                    conn,
                    config,
                    protector,
                    who,
                    id,
                    AssignMediator {
                        account_id,
                        with_group,
                    },
                )
            })
        });
    run(
        &req,
        &staff,
        id,
        (
            "已指派调解员，已通知申请人。",
            "Assigned; the claimants are told.",
        ),
        step,
    )
    .await
}

#[derive(Deserialize)]
pub struct AgreementForm {
    payer: String,
    jointly_liable: Option<String>,
    instalments: String,
}

/// `2027-01-15 2500` a line: a due date and yuan.
fn instalments(text: &str) -> Result<Vec<InstalmentInput>, Error> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (day, amount) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| invalid("instalments"))?;
            let due_on = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
                .map_err(|_| invalid("instalments"))?;
            let amount_fen =
                Fen::parse_yuan(amount.trim()).ok_or_else(|| invalid("instalments"))?;
            Ok(InstalmentInput { due_on, amount_fen })
        })
        .collect()
}

async fn sign(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<AgreementForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        Ok(SignAgreement {
            payer: Text::parse(&form.payer).ok_or_else(|| invalid("payer"))?,
            jointly_liable: optional::<String>(&form.jointly_liable, "jointly_liable")?
                .map(|t| Text::parse(&t).ok_or_else(|| invalid("jointly_liable")))
                .transpose()?,
            instalments: instalments(&form.instalments)?,
        })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, config, protector, who| {
            agreements::sign(conn, config, protector, who, id, body)
        })
    });
    run(
        &req,
        &staff,
        id,
        (
            "已登记调解协议，已通知申请人。",
            "Agreement recorded; the claimants are told.",
        ),
        step,
    )
    .await
}

async fn pay(
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
    submitted: Submitted<crate::forms::Empty>,
) -> PageResult {
    let ((id, instalment), staff) = (path.into_inner(), submitted.staff);
    let step: Step = Box::new(move |conn, config, protector, who| {
        agreements::pay(conn, config, protector, who, id, instalment)
    });
    run(
        &req,
        &staff,
        id,
        (
            "已登记到账，已通知申请人。",
            "Payment recorded; the claimants are told.",
        ),
        Ok(step),
    )
    .await
}

#[derive(Deserialize)]
pub struct ReferForm {
    agency: String,
    reply: String,
}

async fn refer(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<ReferForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        Ok(Refer {
            agency: Agency::parse(&form.agency).ok_or_else(|| invalid("agency"))?,
            reply: Prose::parse(&form.reply).ok_or_else(|| invalid("reply"))?,
        })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, config, protector, who| {
            closing::refer(conn, config, protector, who, id, body)
        })
    });
    run(
        &req,
        &staff,
        id,
        (
            "已转交，已通知申请人。",
            "Referred; the claimants are told.",
        ),
        step,
    )
    .await
}

#[derive(Deserialize)]
pub struct CloseForm {
    outcome: String,
    recovered: String,
    note: Option<String>,
}

async fn close(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<CloseForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        Ok(Close {
            outcome: Outcome::parse(&form.outcome).ok_or_else(|| invalid("outcome"))?,
            recovered_fen: Fen::parse_yuan(form.recovered.trim())
                .ok_or_else(|| invalid("recovered"))?,
            note: prose(&form.note, "note")?,
        })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, config, protector, who| {
            closing::close(conn, config, protector, who, id, body)
        })
    });
    run(
        &req,
        &staff,
        id,
        ("已办结，已通知申请人。", "Closed; the claimants are told."),
        step,
    )
    .await
}

#[derive(Deserialize)]
pub struct FollowUpForm {
    rating: String,
    note: Option<String>,
}

async fn follow_up(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<FollowUpForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        Ok(FollowUp {
            rating: form.rating.trim().parse().map_err(|_| invalid("rating"))?,
            note: prose(&form.note, "note")?,
        })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, config, protector, who| {
            closing::follow_up(conn, config, protector, who, id, body)
        })
    });
    run(
        &req,
        &staff,
        id,
        ("已登记回访。", "Follow-up recorded."),
        step,
    )
    .await
}

#[derive(Deserialize)]
pub struct MeetingForm {
    starts_at: Option<String>,
    venue: String,
    place: String,
    respondent_invited: Option<String>,
    with_group: Option<String>,
}

async fn meet(
    req: HttpRequest,
    id: web::Path<i64>,
    submitted: Submitted<MeetingForm>,
) -> PageResult {
    let (id, Submitted { staff, form, .. }) = (id.into_inner(), submitted);
    let body = (|| {
        Ok(ScheduleMeeting {
            starts_at: crate::forms::required_time(&form.starts_at, "starts_at")?,
            venue: Venue::parse(&form.venue).ok_or_else(|| invalid("venue"))?,
            place: Text::parse(&form.place).ok_or_else(|| invalid("place"))?,
            respondent_invited: form.respondent_invited.is_some(),
            with_group: form.with_group.is_some(),
        })
    })();
    let step = body.map(|body| -> Step {
        Box::new(move |conn, config, protector, who| {
            meetings::schedule(conn, config, protector, who, id, body)
        })
    });
    run(
        &req,
        &staff,
        id,
        (
            "已安排调解会议，已通知申请人。",
            "Meeting scheduled; the claimants are told.",
        ),
        step,
    )
    .await
}
