//! The door page's forms, check-in and fault report, and their handlers. Each calls the same use
//! case as its JSON route (`visits::check_in` as `POST /v1/stations/{id}/visits`,
//! `feedback::report` as `POST /v1/stations/{id}/feedback`, limits included) and answers 303
//! back to the page with a one-time note: what it did, or why not in plain words.

use actix_web::{web, HttpRequest};
use maud::{html, Markup};
use platform::text::Text;
use platform::{Coordinator, Db, Error, ErrorCode};
use serde::Deserialize;
use stations::feedback::{self, Body};
use stations::visits;
use stations::vocab::FeedbackKind;
use stations::Stations;

use super::here;
use crate::errors::{refusal_text, PageResult};
use crate::i18n::{self, Lang, Pick};
use crate::public::session::{back_to, FormToken, PublicForm};
use crate::session::app_data;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/door/{id}/check-in", web::post().to(check_in))
        .route("/door/{id}/report", web::post().to(report));
}

/// What a form did, carried in the note as a key that the page words in the reader's language
/// (the language may change before it is read). Any other note is a refusal, in words already.
#[derive(Debug, PartialEq, Eq)]
enum Done {
    CheckedIn {
        counted: bool,
        member: bool,
        /// `HH:MM` of the counted visit, Asia/Shanghai.
        at: String,
    },
    Reported(FeedbackKind),
}

const DONE: &str = "door-done:";

impl Done {
    fn key(&self) -> String {
        match self {
            Done::CheckedIn {
                counted,
                member,
                at,
            } => {
                let counted = if *counted { "counted" } else { "again" };
                let member = if *member { "member" } else { "guest" };
                format!("{DONE}check-in:{counted}:{member}:{at}")
            }
            Done::Reported(kind) => format!("{DONE}report:{}", kind.as_str()),
        }
    }

    fn read(note: &str) -> Option<Done> {
        let rest = note.strip_prefix(DONE)?;
        if let Some(kind) = rest.strip_prefix("report:") {
            return FeedbackKind::parse(kind).map(Done::Reported);
        }
        let mut parts = rest.strip_prefix("check-in:")?.splitn(3, ':');
        let counted = parts.next()? == "counted";
        let member = parts.next()? == "member";
        let at = parts.next()?.to_owned();
        Some(Done::CheckedIn {
            counted,
            member,
            at,
        })
    }
}

/// The note the last form left, as the page shows it.
pub(super) fn note(lang: Lang, note: &str) -> Markup {
    match Done::read(note) {
        Some(Done::CheckedIn {
            counted,
            member,
            at,
        }) => html! {
            p.flash role="status" data-done=(if counted { "checked-in" } else { "already" }) data-member=(member) {
                @if counted { strong { (lang.t("签到成功", "Checked in")) } (lang.t("，时间 ", " at ")) (at) (lang.t("。", ".")) }
                @else { strong { (lang.t("半小时内已签到", "Already checked in")) } (lang.t("：", " within the last half hour, at ")) (at) (lang.t(" 的到访已计入。", "; that visit counts.")) }
                br;
                @if member { (lang.t("你是工会会员。", "You are a union member.")) }
                @else { (lang.t("你还不是工会会员：入会免费，可在工会 App 或向驿站工作人员申请。",
                    "You are not a union member yet: joining is free, in the union app or through the station's staff.")) }
            }
        },
        Some(Done::Reported(kind)) => html! {
            p.flash role="status" data-done="reported" {
                @if kind == FeedbackKind::Fault { (lang.t("故障已报告，谢谢！驿站工作人员会尽快处理。", "Fault reported, thank you: the station's staff will see to it.")) }
                @else { (lang.t("建议已提交，谢谢！", "Suggestion sent, thank you.")) }
            }
        },
        None => html! { p.refusal role="alert" { (note) } },
    }
}

pub(super) fn check_in_form(lang: Lang, token: &FormToken, station_id: i64, code: &str) -> Markup {
    html! {
        form.stack method="post" action={ "/p/door/" (station_id) "/check-in" } id="check-in-form" {
            (token.field())
            input type="hidden" name="c" value=(code);
            button.wide type="submit" { (lang.t("签到", "Check in")) }
            p.muted { (lang.t("每半小时计一次到访。", "One visit counts per half hour.")) }
        }
    }
}

pub(super) fn report_form(
    lang: Lang,
    token: &FormToken,
    station_id: i64,
    code: Option<&str>,
) -> Markup {
    html! {
        section #report {
            h2 { (lang.t("报告问题", "Report a problem")) }
            form.stack method="post" action={ "/p/door/" (station_id) "/report" } id="report-form" {
                (token.field())
                @if let Some(code) = code { input type="hidden" name="c" value=(code); }
                fieldset.kinds {
                    label.check { input type="radio" name="kind" value="fault" checked; (lang.t("故障", "Something is broken")) }
                    label.check { input type="radio" name="kind" value="suggestion"; (lang.t("建议", "A suggestion")) }
                }
                label { (lang.t("说明（最多 500 字）", "What is it? (up to 500 characters)"))
                    textarea name="body" maxlength=(feedback::MAX_BODY) rows="3" required
                        placeholder=(lang.t("如：微波炉坏了；开放时间内大门紧锁", "e.g. the microwave is broken; locked during opening hours")) {} }
                button.secondary.wide type="submit" { (lang.t("提交", "Send")) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct CheckInForm {
    c: Option<String>,
}

#[derive(Deserialize)]
pub struct ReportForm {
    c: Option<String>,
    kind: Option<String>,
    body: Option<String>,
}

/// Which form a refusal answers, for its words.
#[derive(Clone, Copy)]
enum Form {
    CheckIn,
    Report,
}

/// A refusal in plain words for the note; a server error is the error page.
fn refused(req: &HttpRequest, back: &str, e: Error, form: Form) -> PageResult {
    if e.code().status().is_server_error() {
        return Err(e.into());
    }
    let lang = i18n::of(req);
    let words = match (e.code(), e.field(), form) {
        (ErrorCode::InvalidField, Some("code"), _) => lang.t(
            "签到码不对：请重新扫描驿站门上的二维码再签到。",
            "Wrong check-in code: scan the QR code on the station's door again.",
        ),
        (ErrorCode::StationClosed, _, Form::CheckIn) => lang.t(
            "驿站现在暂停开放或已停止运营，不能签到。",
            "The station is closed or temporarily closed: no check-in.",
        ),
        (ErrorCode::StationClosed, _, Form::Report) => lang.t(
            "驿站已停止运营，不再接收问题报告。",
            "The station has closed for good and takes no more reports.",
        ),
        (ErrorCode::Unauthenticated, _, _) => lang.t(
            "请先用手机号登录。",
            "Sign in with your mobile number first.",
        ),
        (ErrorCode::InvalidField, Some("body"), _) => lang.t(
            "请写下要报告的问题，最多 500 字。",
            "Say what the problem is, in up to 500 characters.",
        ),
        (ErrorCode::InvalidField, Some("kind"), _) => {
            lang.t("请选择“故障”或“建议”。", "Choose a fault or a suggestion.")
        }
        _ => return Ok(back_to(req, back, Some(&refusal_text(lang, &e)))),
    };
    Ok(back_to(req, back, Some(words)))
}

/// `POST /p/door/{id}/check-in`: checks in with the door code the page was opened with.
pub async fn check_in(
    req: HttpRequest,
    id: web::Path<i64>,
    posted: PublicForm<CheckInForm>,
) -> PageResult {
    let station_id = id.into_inner();
    let code = posted.form.c.unwrap_or_default();
    let back = here(station_id, Some(code.as_str()).filter(|c| !c.is_empty()));
    let Some(worker) = posted.worker else {
        return refused(
            &req,
            &back,
            Error::new(ErrorCode::Unauthenticated),
            Form::CheckIn,
        );
    };
    if code.trim().is_empty() {
        let lang = i18n::of(&req);
        let missing = lang.t(
            "没有签到码：请扫描驿站门上的二维码签到。",
            "No check-in code: scan the QR code on the station's door to check in.",
        );
        return Ok(back_to(&req, &back, Some(missing)));
    }
    // The API's own bound on the code.
    let Some(code) = Text::<64>::parse(&code) else {
        return refused(
            &req,
            &back,
            Error::invalid(ErrorCode::InvalidField, "code"),
            Form::CheckIn,
        );
    };
    let db = app_data::<Db>(&req)?;
    let account_id = worker.user.account_id;
    let visit = db
        .write(move |conn| {
            visits::check_in(
                conn,
                station_id,
                account_id,
                &code,
                platform::clock::now_utc(),
            )
        })
        .await;
    match visit {
        Ok(visit) => {
            let done = Done::CheckedIn {
                counted: visit.counted,
                member: visit.member,
                at: platform::clock::local(visit.counted_at)
                    .format("%H:%M")
                    .to_string(),
            };
            Ok(back_to(&req, &back, Some(&done.key())))
        }
        Err(e) => refused(&req, &back, e, Form::CheckIn),
    }
}

/// A textarea's line breaks as spaces: the API's text is one line (no control characters),
/// and a rider pressing Enter should not be refused for it.
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\r', '\n'], " ")
}

/// `POST /p/door/{id}/report`: a fault report or a suggestion on the station's board.
pub async fn report(
    req: HttpRequest,
    id: web::Path<i64>,
    posted: PublicForm<ReportForm>,
) -> PageResult {
    let station_id = id.into_inner();
    let form = posted.form;
    let back = here(
        station_id,
        form.c.as_deref().map(str::trim).filter(|c| !c.is_empty()),
    );
    let Some(worker) = posted.worker else {
        return refused(
            &req,
            &back,
            Error::new(ErrorCode::Unauthenticated),
            Form::Report,
        );
    };
    let Some(kind) = form.kind.as_deref().and_then(FeedbackKind::parse) else {
        return refused(
            &req,
            &back,
            Error::invalid(ErrorCode::InvalidField, "kind"),
            Form::Report,
        );
    };
    let Some(body) = form
        .body
        .as_deref()
        .map(one_line)
        .and_then(|b| Body::parse(&b))
    else {
        return refused(
            &req,
            &back,
            Error::invalid(ErrorCode::InvalidField, "body"),
            Form::Report,
        );
    };
    let db = app_data::<Db>(&req)?;
    let coord = app_data::<Coordinator>(&req)?;
    let stations = app_data::<Stations>(&req)?;
    let account_id = worker.user.account_id;
    match feedback::report(&db, &coord, &stations, account_id, station_id, kind, body).await {
        Ok(_) => Ok(back_to(&req, &back, Some(&Done::Reported(kind).key()))),
        Err(e) => refused(&req, &back, e, Form::Report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_done_key_reads_back_and_anything_else_is_a_refusal() {
        for done in [
            Done::CheckedIn {
                counted: true,
                member: false,
                at: "14:05".into(),
            },
            Done::CheckedIn {
                counted: false,
                member: true,
                at: "09:30".into(),
            },
            Done::Reported(FeedbackKind::Fault),
            Done::Reported(FeedbackKind::Suggestion),
        ] {
            assert_eq!(Done::read(&done.key()), Some(done));
        }
        assert_eq!(Done::read("请先登录，或登录已过期。"), None);
        let refusal = note(Lang::ZhCn, "字段取值无效。 (code)").into_string();
        assert!(refusal.contains("role=\"alert\""), "{refusal}");
        assert_eq!(one_line("微波炉\r\n坏了\n"), "微波炉 坏了 ");
    }
}
