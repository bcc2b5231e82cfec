//! The join flow a poster's QR opens in the phone's browser (WeChat's, or a cheap Android
//! phone's), for a rider who has no app yet: at most five screens, each one page of plain HTML
//! with no script and no web font.
//!
//! 1. the union and the campaign: what joining means, that it is free, who runs it;
//! 2. phone and SMS code ([`super::sign_in`]);
//! 3. real name and ID number, with the consent text (skipped when already given);
//! 4. work details, and join;
//! 5. the result: member, or waiting for review and what happens next, and how to get the app.
//!
//! The screen is worked out from what the server holds (signed in? real name given? a
//! membership or application?), never from where the browser thinks it is: a reload anywhere
//! shows the right screen, and a form sent twice lands on the same result, since every step
//! is the API's own use case and each of those is idempotent (the same profile saved again,
//! the same join answered with the same application).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use identity::profile::{parse_profile, ProfileView};
use identity::Identity;
use maud::{html, Markup};
use membership::applications::{self, JoinRequest, MembershipView, MyMembership};
use membership::join_codes::{self, JoinCode, JoinPreview};
use membership::vocab::{Occupation, Status};
use membership::MembershipConfig;
use platform::{Db, Error, ErrorCode};
use serde::Deserialize;

use crate::errors::{refusal_text, PageResult};
use crate::i18n::{self, Lang, Pick};
use crate::labels;
use crate::layout;
use crate::public::session::{self, back_to, FormToken, PublicForm};
use crate::public::sign_in::{self, phone_sent};
use crate::session::app_data;

/// Screens of the flow.
const SCREENS: u8 = 5;

#[derive(Deserialize)]
pub struct JoinQuery {
    /// `start`: the rider tapped "join" on the first screen.
    step: Option<String>,
}

/// What the server knows of this browser's rider.
struct Rider {
    profile: Option<ProfileView>,
    membership: MyMembership,
}

/// The page a phone's ordinary camera or WeChat opens from a poster: the join flow, at the
/// screen this browser's rider has reached.
#[utoipa::path(get, path = "/j/{code}", tag = "membership",
    params(("code" = String, Path, description = "The join code the poster prints"),
        ("step" = Option<String>, Query, description = "`start`: from the first screen to the sign-in")),
    responses((status = 200, content_type = "text/html", description = "A screen of the join flow"),
        (status = 404, content_type = "text/html", description = "Unknown code"),
        (status = 409, content_type = "text/html", description = "Expired, used up or revoked code")))]
pub async fn poster_landing(
    req: HttpRequest,
    code: web::Path<String>,
    query: web::Query<JoinQuery>,
) -> HttpResponse {
    let lang = i18n::of(&req);
    let token = FormToken::of(&req);
    let response = match screen(&req, lang, &token, &code, query.step.as_deref()).await {
        Ok(response) => response,
        Err(e) => refusal(lang, &e),
    };
    session::page(&req, &token, response)
}

async fn screen(
    req: &HttpRequest,
    lang: Lang,
    token: &FormToken,
    code: &str,
    step: Option<&str>,
) -> Result<HttpResponse, Error> {
    let rider = rider(req).await?;
    let here = format!("/j/{code}");
    let note = session::take_note(req);
    // A member, or an applicant, sees the result even once the code is used up or expired.
    if let Some(rider) = &rider {
        let mine = &rider.membership;
        if let Some(m) = mine.current.as_ref().or(mine.pending.as_ref()) {
            let app = app_data::<MembershipConfig>(req)?;
            return Ok(frame(
                lang,
                token,
                &here,
                Some(rider),
                note,
                5,
                done(lang, m, &app),
            ));
        }
    }
    let preview = preview(req, code).await?;
    let (number, body) = match &rider {
        None if step == Some("start") || phone_sent(req).is_some() => (
            2,
            signing_in(lang, token, &preview, phone_sent(req).as_ref(), &here),
        ),
        None => (1, intro(lang, &preview, &here)),
        Some(r) if r.profile.is_none() => (3, real_name(lang, token, &preview)),
        Some(_) => (4, work(lang, token, &preview)),
    };
    Ok(frame(
        lang,
        token,
        &here,
        rider.as_ref(),
        note,
        number,
        body,
    ))
}

async fn rider(req: &HttpRequest) -> Result<Option<Rider>, Error> {
    let Some(worker) = session::worker(req).await? else {
        return Ok(None);
    };
    let identity = app_data::<Identity>(req)?.into_inner();
    let db = app_data::<Db>(req)?;
    let account_id = worker.user.account_id;
    let (profile, membership) = db
        .run(move |conn| {
            let profile = identity.load_profile(conn, account_id)?;
            Ok((profile, applications::mine(conn, account_id)?))
        })
        .await?;
    Ok(Some(Rider {
        profile,
        membership,
    }))
}

async fn preview(req: &HttpRequest, code: &str) -> Result<JoinPreview, Error> {
    let code = JoinCode::parse(code)?;
    let db = app_data::<Db>(req)?;
    db.run(move |conn| join_codes::preview(conn, &code)).await
}

/// Every screen's frame: the step, the note the last form left, language and sign-out.
fn frame(
    lang: Lang,
    token: &FormToken,
    here: &str,
    rider: Option<&Rider>,
    note: Option<String>,
    number: u8,
    body: Markup,
) -> HttpResponse {
    let page = html! {
        div.panel.h5 data-screen=(number) {
            p.steps { (lang.t("第", "Step ")) (number) (lang.t(" 步，共 ", " of ")) (SCREENS) (lang.t(" 步", "")) }
            @if let Some(note) = note { p.refusal role="alert" { (note) } }
            (body)
        }
        div.page-tools {
            (layout::language_switch(lang, here))
            @if rider.is_some() { (sign_in::sign_out_button(lang, token, here)) }
        }
    };
    layout::bare(
        StatusCode::OK,
        lang,
        lang.t("加入工会", "Join the union"),
        page,
    )
}

fn intro(lang: Lang, preview: &JoinPreview, here: &str) -> Markup {
    let org = &preview.org;
    html! {
        h1 { (org.name) }
        @if !preview.label.is_empty() { p.campaign { (preview.label) } }
        p { (lang.t("加入工会，免费，不收任何费用。", "Joining the union is free: there is nothing to pay.")) }
        p { (lang.t("由 ", "Run by ")) strong { (org.name) } @if let Some(parent) = &org.parent_name { "（" (parent) "）" } (lang.t(" 主办。", ".")) }
        p { (lang.t("入会后你可以：", "As a member you can:")) }
        ul.benefits {
            li { (lang.t("免费体检、领取暖新礼包", "get free health checks and warm-the-new gift packs")) }
            li { (lang.t("使用工会驿站：喝水、休息、充电", "use union rest stations: water, rest, charging")) }
            li { (lang.t("被拖欠工资、受伤等权益受损时，请工会调解和法律援助", "get the union's mediation and legal aid for unpaid wages or injuries")) }
            li { (lang.t("遇到困难时申请帮扶", "apply for hardship grants in hard times")) }
        }
        p.muted { @if preview.auto_approve {
            (lang.t("提交后即成为会员。", "You are a member as soon as you submit."))
        } @else {
            (lang.t("提交后由工会审核，结果短信通知。", "The union reviews your application and tells you by SMS."))
        } }
        a.button.wide href={ (here) "?step=start" } id="start" { (lang.t("开始入会", "Join now")) }
    }
}

fn signing_in(
    lang: Lang,
    token: &FormToken,
    preview: &JoinPreview,
    sent_to: Option<&identity::phone::Phone>,
    here: &str,
) -> Markup {
    html! {
        h1 { (lang.t("验证手机号", "Your mobile number")) }
        p.muted { (lang.t("用于登录和接收 ", "To sign in and to hear from ")) (preview.org.name) (lang.t(" 的通知。", ".")) }
        (sign_in::panel(lang, token, sent_to, here))
    }
}

fn real_name(lang: Lang, token: &FormToken, preview: &JoinPreview) -> Markup {
    html! {
        h1 { (lang.t("实名信息", "Your real name")) }
        form.stack method="post" action="/p/join/real-name" id="real-name" {
            (token.field())
            input type="hidden" name="join_code" value=(preview.code);
            label { (lang.t("姓名（与身份证一致）", "Name, as on your ID card"))
                input type="text" name="legal_name" autocomplete="name" maxlength="60" required; }
            label { (lang.t("身份证号", "Resident ID number"))
                input type="text" name="id_number" maxlength="18" autocapitalize="characters" required; }
            p.consent { (lang.t(
                "工会依照《个人信息保护法》收集你的姓名和身份证号，仅用于核实身份、办理会籍和会员服务；身份证号加密保存，页面只显示部分号码；你可以随时在 App 中导出或删除自己的信息。",
                "The union collects your name and ID number under the Personal Information Protection Law, only to verify who you are and run your membership; the number is stored encrypted and shown only in part; you can export or delete your data in the app at any time.")) }
            label.check { input type="checkbox" name="consent" value="true" required;
                (lang.t("我已阅读并同意以上个人信息处理规则", "I have read and agree to how my personal information is handled")) }
            button.wide type="submit" { (lang.t("下一步", "Next")) }
        }
    }
}

fn work(lang: Lang, token: &FormToken, preview: &JoinPreview) -> Markup {
    html! {
        h1 { (lang.t("工作信息", "Your work")) }
        form.stack method="post" action="/p/join" id="join" {
            (token.field())
            input type="hidden" name="join_code" value=(preview.code);
            label { (lang.t("职业", "Occupation"))
                select name="occupation" required {
                    @for o in Occupation::ALL { option value=(o.as_str()) { (labels::occupation(lang, *o)) } }
                } }
            label { (lang.t("平台或单位（如 美团、顺丰）", "Platform or employer (e.g. Meituan, SF)"))
                input type="text" name="platform" maxlength="40" required; }
            label { (lang.t("工作城市", "City you work in"))
                input type="text" name="work_city" maxlength="40" required; }
            button.wide type="submit" { (lang.t("提交入会", "Join")) }
        }
    }
}

fn done(lang: Lang, m: &MembershipView, app: &MembershipConfig) -> Markup {
    html! {
        @if m.status == Status::Active {
            h1 data-status="active" { (lang.t("入会成功", "You are a member")) }
            p { (lang.t("你已是 ", "You are a member of ")) strong { (m.org.name) } (lang.t(" 会员。", ".")) }
            @if let Some(no) = &m.member_no { p { (lang.t("会员号：", "Member number: ")) code { (no) } } }
            p.muted { (lang.t("电子会员卡、体检预约和礼包都在工会 App 里。", "Your e-member card, health checks and gift packs are in the union app.")) }
        } @else {
            h1 data-status="pending" { (lang.t("已提交入会申请", "Application sent")) }
            p { strong { (m.org.name) } (lang.t(" 的工作人员会审核你的申请，结果会短信通知你。", " staff will review it and tell you the result by SMS.")) }
            p.muted { (lang.t("通过后即成为会员；如需补充材料，工会会联系你。再次打开本页可查看进度。",
                "Once approved you are a member; if anything is missing the union will contact you. Open this page again to see where it stands.")) }
        }
        (get_the_app(lang, app))
    }
}

fn get_the_app(lang: Lang, app: &MembershipConfig) -> Markup {
    html! {
        @if let Some(link) = &app.app_link {
            a.button.wide href=(link) id="open-app" { (lang.t("打开工会 App", "Open the union app")) }
        }
        @if let Some(url) = &app.app_download_url {
            a.button.secondary.wide href=(url) id="get-app" { (lang.t("下载工会 App", "Get the union app")) }
        }
    }
}

/// A code that cannot be used: which case it is, in plain words, and what to do.
fn refusal(lang: Lang, e: &Error) -> HttpResponse {
    let code = e.code();
    if code.status().is_server_error() {
        return crate::errors::public_page(e, lang);
    }
    let what_to_do = match code {
        ErrorCode::JoinCodeExpired | ErrorCode::JoinCodeUsedUp | ErrorCode::JoinCodeRevoked => lang.t(
            "请联系张贴海报的工会，或扫描工会驿站、工会工作人员提供的新二维码。",
            "Ask the union that put up the poster, or scan a new code at a union rest station or from union staff.",
        ),
        _ => lang.t("请检查二维码是否完整，或向工会工作人员询问。", "Check that the whole code was scanned, or ask union staff."),
    };
    let body = html! {
        div.panel.h5 {
            h1 { (lang.t("无法用这个二维码入会", "This code cannot be used to join")) }
            p.refusal data-code=(code.as_str()) { (code.detail(lang)) }
            p { (what_to_do) }
        }
    };
    layout::bare(
        code.status(),
        lang,
        lang.t("加入工会", "Join the union"),
        body,
    )
}

#[derive(Deserialize)]
pub struct RealNameForm {
    join_code: String,
    legal_name: String,
    id_number: String,
    consent: Option<bool>,
}

/// The page of the flow a form returns to; a code that is no code goes to the start.
fn flow_page(code: &str) -> String {
    match JoinCode::parse(code) {
        Ok(code) => format!("/j/{}", code.as_str()),
        Err(_) => "/".to_owned(),
    }
}

/// `POST /p/join/real-name`: the real-name profile, with the same rule as `PUT /v1/me/identity`.
pub async fn give_real_name(req: HttpRequest, posted: PublicForm<RealNameForm>) -> PageResult {
    let lang = i18n::of(&req);
    let form = posted.form;
    let back = flow_page(&form.join_code);
    let Some(worker) = posted.worker else {
        return Ok(back_to(
            &req,
            &back,
            Some(&refusal_text(lang, &Error::new(ErrorCode::Unauthenticated))),
        ));
    };
    let outcome = match parse_profile(&form.legal_name, &form.id_number, form.consent) {
        Ok((name, number)) => {
            let identity = app_data::<Identity>(&req)?.into_inner();
            let db = app_data::<Db>(&req)?;
            let account_id = worker.user.account_id;
            db.write(move |conn| identity.save_profile(conn, account_id, &name, &number))
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    answer(&req, lang, &back, outcome)
}

/// `POST /p/join`: joins through the code, with the same request and use case as
/// `POST /v1/memberships`.
pub async fn join(req: HttpRequest, posted: PublicForm<JoinRequest>) -> PageResult {
    let lang = i18n::of(&req);
    let back = flow_page(&posted.form.join_code);
    let Some(worker) = posted.worker else {
        return Ok(back_to(
            &req,
            &back,
            Some(&refusal_text(lang, &Error::new(ErrorCode::Unauthenticated))),
        ));
    };
    let outcome = match posted.form.validate() {
        Ok((code, details)) => {
            let policy = app_data::<Identity>(&req)?.config.consent_policy.clone();
            let db = app_data::<Db>(&req)?;
            let account_id = worker.user.account_id;
            db.write(move |conn| applications::join(conn, account_id, &code, details, &policy))
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    answer(&req, lang, &back, outcome)
}

/// Back to the flow, which shows the next screen, or this one with the refusal in words.
fn answer(req: &HttpRequest, lang: Lang, back: &str, outcome: Result<(), Error>) -> PageResult {
    match outcome {
        Ok(()) => Ok(back_to(req, back, None)),
        Err(e) if e.code().status().is_server_error() => Err(e.into()),
        Err(e) => Ok(back_to(req, back, Some(&refusal_text(lang, &e)))),
    }
}
