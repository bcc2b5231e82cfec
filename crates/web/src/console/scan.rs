//! Scan: one page for gift-pack vouchers, health-check bookings and e-cards, for a queue of
//! riders at a service fair. The field takes what a handheld scanner types (it ends with
//! Enter, which submits) or a code typed by hand; the camera fills it where the browser can
//! read QR codes. The verdict fills the screen in a colour readable at arm's length, and the
//! field is ready for the next rider.

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use benefits::redemptions::{self, ScanOutcome, ScanResult};
use benefits::Benefits;
use identity::Identity;
use maud::{html, Markup};
use membership::card::{self, Verification, VerifyResult};
use platform::clock::now;
use platform::{Db, Error};
use serde::Deserialize;

use crate::assets;
use crate::errors::PageResult;
use crate::forms::Submitted;
use crate::i18n::{Lang, Pick};
use crate::layout::{self, csrf, Section};
use crate::session::{app_data, Staff};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/scan", web::get().to(page))
        .route("/scan", web::post().to(submit));
}

async fn page(staff: Staff) -> PageResult {
    Ok(render(&staff, None))
}

#[derive(Deserialize)]
pub struct ScanForm {
    code: String,
}

/// What was scanned and what it means.
enum Verdict {
    Benefit(ScanResult),
    Card(Verification),
    Refused(Error),
}

async fn submit(req: HttpRequest, submitted: Submitted<ScanForm>) -> PageResult {
    let Submitted { staff, form, .. } = submitted;
    let code = form.code.trim().to_owned();
    let db = app_data::<Db>(&req)?;
    let (user, actor) = (staff.user.clone(), staff.actor.clone());
    // An e-card is a signed token (three dot-separated parts); vouchers and bookings are
    // short codes.
    let verdict = if code.split('.').count() == 3 {
        let identity: Arc<Identity> = app_data::<Identity>(&req)?.into_inner();
        db.run(move |conn| card::verify(conn, &identity, &user, &actor, &code))
            .await
            .map(Verdict::Card)
    } else {
        let window = app_data::<Benefits>(&req)?.config.check_in;
        db.write(move |conn| redemptions::scan(conn, &user, &actor, &code, &window, now()))
            .await
            .map(Verdict::Benefit)
    };
    let verdict = match verdict {
        Ok(v) => v,
        Err(e) if e.code().status().is_server_error() => return Err(e.into()),
        Err(e) => Verdict::Refused(e),
    };
    Ok(render(&staff, Some(&verdict)))
}

fn render(staff: &Staff, verdict: Option<&Verdict>) -> actix_web::HttpResponse {
    let lang = staff.lang;
    let body = html! {
        @if let Some(verdict) = verdict { (show(lang, verdict)) }
        form.stack method="post" action="/console/scan" id="scan" {
            (csrf(staff))
            label { (lang.t("券码、预约码或电子会员卡", "Voucher, booking or e-card code"))
                input type="text" name="code" autocomplete="off" autofocus required maxlength="2048"; }
            button type="submit" { (lang.t("核销 / 查验", "Redeem / check")) }
        }
        div #camera hidden data-decoder=(assets::QR_DECODER.as_str()) {
            button.secondary type="button" #camera-start { (lang.t("用摄像头扫码", "Scan with the camera")) }
            video.camera #camera-view playsinline muted hidden {}
        }
        script src=(assets::SCAN_SCRIPT.as_str()) defer {}
    };
    layout::console(staff, Section::Scan, lang.t("扫码核销", "Scan"), body)
}

fn show(lang: Lang, verdict: &Verdict) -> Markup {
    match verdict {
        Verdict::Benefit(result) => benefit(lang, result),
        Verdict::Card(verification) => card_verdict(lang, verification),
        Verdict::Refused(e) => html! {
            div.verdict.no role="alert" data-verdict="refused" data-code=(e.code().as_str()) {
                (lang.t("无效", "Not valid"))
                small { (e.code().detail(lang)) }
            }
        },
    }
}

fn benefit(lang: Lang, result: &ScanResult) -> Markup {
    let (class, word) = match result.outcome {
        ScanOutcome::Redeemed => ("ok", lang.t("核销成功", "Redeemed")),
        ScanOutcome::CheckedIn => ("ok", lang.t("签到成功", "Checked in")),
        ScanOutcome::AlreadyRedeemed => ("again", lang.t("已核销过", "Already redeemed")),
        ScanOutcome::AlreadyCheckedIn => ("again", lang.t("已签到过", "Already checked in")),
        ScanOutcome::Expired => ("no", lang.t("已过期", "Expired")),
        ScanOutcome::NotBooked => ("no", lang.t("预约已取消", "Not booked")),
    };
    let outcome = outcome_name(result.outcome);
    html! {
        div class=(format!("verdict {class}")) role="status" data-verdict=(outcome) {
            (word)
            small { (result.program_title) " · " (result.holder_name_masked.as_deref().unwrap_or("")) }
            @if matches!(result.outcome, ScanOutcome::AlreadyRedeemed | ScanOutcome::AlreadyCheckedIn) {
                small {
                    @if let Some(at) = result.at { (lang.t("于 ", "at ")) (layout::when(at)) }
                    @if let Some(by) = result.by { " · " (lang.t("操作人 #", "by staff #")) (by) }
                }
            }
        }
    }
}

fn card_verdict(lang: Lang, verification: &Verification) -> Markup {
    let (class, word) = match verification.result {
        VerifyResult::Valid => ("ok", lang.t("会员有效", "Valid member")),
        VerifyResult::Expired => (
            "again",
            lang.t(
                "会员卡已过期，请会员刷新",
                "Card expired: ask the member to refresh it",
            ),
        ),
        VerifyResult::Invalid => ("no", lang.t("不是本会的会员卡", "Not one of our cards")),
        VerifyResult::NotAMember => ("no", lang.t("会籍已终止", "Membership has ended")),
    };
    html! {
        div class=(format!("verdict {class}")) role="status" data-verdict="card" {
            (word)
            @if let Some(member) = &verification.member {
                small { (member.legal_name_masked.as_deref().unwrap_or("")) " · " (member.member_no) " · " (member.org.name) }
            }
        }
    }
}

/// The outcome's API name (`redeemed`, `already_redeemed`, ...), for tests and styling.
fn outcome_name(outcome: ScanOutcome) -> &'static str {
    match outcome {
        ScanOutcome::Redeemed => "redeemed",
        ScanOutcome::CheckedIn => "checked_in",
        ScanOutcome::AlreadyRedeemed => "already_redeemed",
        ScanOutcome::AlreadyCheckedIn => "already_checked_in",
        ScanOutcome::Expired => "expired",
        ScanOutcome::NotBooked => "not_booked",
    }
}
