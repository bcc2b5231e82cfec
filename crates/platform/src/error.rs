//! The one error type of the service and its RFC 9457 problem+json rendering.
//!
//! Every failure a client can see is an [`ErrorCode`]: a stable snake_case code with exactly one
//! HTTP status and a zh-CN and an en explanation. The internal cause (a database error, an I/O
//! error) travels beside it for the log and never reaches the response body.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Shorthand for results whose error is the service error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! error_codes {
    ($( $variant:ident = ($status:literal, $code:literal, $title:literal, $zh:literal, $en:literal), )*) => {
        /// Every client-visible failure. Each code maps to one status; codes are part of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( $variant, )* }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            pub fn status(self) -> StatusCode {
                match self { $( ErrorCode::$variant => StatusCode::from_u16($status).expect("valid status"), )* }
            }
            /// The stable snake_case code the app switches on.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }
            /// Short English title (RFC 9457 `title`; not localised, like the code).
            pub fn title(self) -> &'static str {
                match self { $( ErrorCode::$variant => $title, )* }
            }
            pub fn detail(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $( (ErrorCode::$variant, Lang::ZhCn) => $zh, (ErrorCode::$variant, Lang::En) => $en, )*
                }
            }
        }
    };
}

error_codes! {
    MalformedRequest = (400, "malformed_request", "Malformed request", "请求格式错误，无法解析。", "The request could not be parsed."),
    Unauthenticated = (401, "unauthenticated", "Unauthenticated", "请先登录，或登录已过期。", "Sign in first, or your session has expired."),
    InvalidCredentials = (401, "invalid_credentials", "Invalid credentials", "手机号或密码不正确。", "The phone number or password is incorrect."),
    InvalidRefreshToken = (401, "invalid_refresh_token", "Invalid refresh token", "登录凭证无效或已过期，请重新登录。", "The refresh token is invalid or expired; sign in again."),
    InvalidCodeCredentials = (401, "invalid_code_credentials", "Wrong code or no account", "验证码不正确或已失效，或该手机号尚未注册。", "The code is wrong or expired, or this number has no account."),
    RefreshTokenReused = (401, "refresh_token_reused", "Refresh token reused", "登录凭证已被使用过，为保护账号安全，相关会话已全部退出，请重新登录。", "This refresh token was already used; every session it belongs to has been signed out. Sign in again."),
    NotEligibleOrg = (403, "not_eligible_org", "Not eligible: other union", "该福利仅面向发布工会所辖的会员。", "This benefit is for members of the issuing union's organisations only."),
    NotEligibleOccupation = (403, "not_eligible_occupation", "Not eligible: occupation", "该福利仅面向特定职业的会员。", "This benefit is for members of other occupations."),
    NotEligibleNewMembersOnly = (403, "not_eligible_new_members_only", "Not eligible: new members only", "该福利仅面向新入会会员（暖新）。", "This benefit is for newly joined members only."),
    NotEligiblePlatform = (403, "not_eligible_platform", "Not eligible: platform", "该帮扶仅面向特定平台的劳动者。", "This grant is for workers of other platforms."),
    NotEligibleOrders = (403, "not_eligible_orders", "Not eligible: orders", "接单情况不符合帮扶条件（需连续数月接单量低于规定数）。", "Your monthly orders do not meet the grant's rule."),
    NotEligibleIncome = (403, "not_eligible_income", "Not eligible: income", "家庭月收入高于帮扶标准。", "Your household income is above the grant's limit."),
    NotEligibleCause = (403, "not_eligible_cause", "Not eligible: cause", "该帮扶不包含此困难类型。", "This grant does not cover that cause."),
    NotEligibleJoinedTooLate = (403, "not_eligible_joined_too_late", "Not eligible: joined too late", "该福利仅面向在指定日期前入会的会员。", "This benefit is for members who joined before a given date."),
    Forbidden = (403, "forbidden", "Forbidden", "您没有执行此操作的权限。", "You are not allowed to do this."),
    ConsoleStaffOnly = (403, "console_staff_only", "Console for staff only", "此账号不是工会工作人员，不能使用管理后台。", "This account is not union staff: the console is for staff only."),
    FormExpired = (403, "form_expired", "Form expired", "此页面已过期，请刷新后重试。", "This form has expired: reload the page and try again."),
    MembershipRequired = (403, "membership_required", "Members and applicants only", "加入工会或提交入会申请后，即可申请维权帮助。", "Join the union, or apply to join, to ask it for help with a dispute."),
    NotFound = (404, "not_found", "Not found", "找不到请求的资源。", "The requested resource does not exist."),
    JoinCodeUnknown = (404, "join_code_unknown", "Unknown join code", "入会码无效，请确认扫描的是工会张贴的二维码。", "This join code does not exist; scan a code posted by a union."),
    NotAMember = (404, "not_a_member", "Not a member", "您还不是工会会员。", "You are not a union member."),
    InviteCodeUnknown = (404, "invite_code_unknown", "Unknown case code", "案件邀请码无效，或该案件已办结。请向邀请您的工友核对。", "This case code does not exist or its case is closed; check it with the colleague who gave it to you."),
    AccountNotFound = (404, "account_not_found", "Account not found", "该手机号尚未注册账号。", "No account is registered with this phone number."),
    MethodNotAllowed = (405, "method_not_allowed", "Method not allowed", "此地址不支持该请求方法。", "This method is not allowed on this path."),
    PhoneTaken = (409, "phone_taken", "Phone already registered", "该手机号已注册，请直接登录。", "This phone number is already registered; sign in instead."),
    IdNumberTaken = (409, "id_number_taken", "ID number already used", "该身份证号已绑定其他账号。", "This ID number is already linked to another account."),
    JoinCodeExpired = (409, "join_code_expired", "Join code expired", "该入会码已过期，请扫描最新的入会二维码。", "This join code has expired; scan a current poster."),
    JoinCodeUsedUp = (409, "join_code_used_up", "Join code used up", "该入会码名额已满。", "This join code has reached its maximum number of uses."),
    JoinCodeRevoked = (409, "join_code_revoked", "Join code revoked", "该入会码已停用。", "This join code has been withdrawn by the union."),
    AlreadyMember = (409, "already_member", "Already a member", "您已是工会会员；如需转会，请使用转会功能。", "You are already a member; use transfer to move to another union."),
    AlreadyInOrg = (409, "already_in_org", "Already in this union", "您已是该工会的会员。", "You are already a member of this union."),
    ApplicationPending = (409, "application_pending", "Application pending", "您有一份入会申请正在审核中。", "You already have an application waiting for review."),
    ApplicationNotPending = (409, "application_not_pending", "Application already decided", "该申请已处理。", "This application has already been decided."),
    ProgramNotOpen = (409, "program_not_open", "Program not open", "该福利活动当前未开放。", "This program is not open now."),
    WrongProgramKind = (409, "wrong_program_kind", "Wrong program kind", "该福利活动不支持此操作。", "This program does not support this action."),
    SoldOut = (409, "sold_out", "Sold out", "礼包已领完。", "All packs have been claimed."),
    AlreadyClaimed = (409, "already_claimed", "Already claimed", "您已领取过该福利。", "You have already claimed this benefit."),
    EntryWindowClosed = (409, "entry_window_closed", "Entry window closed", "报名已截止。", "The entry window has closed."),
    DrawNotReady = (409, "draw_not_ready", "Draw not ready", "报名尚未截止，暂不能抽签。", "The entry window has not closed yet."),
    AlreadyDrawn = (409, "already_drawn", "Already drawn", "已完成抽签。", "The draw has already been run."),
    Full = (409, "full", "Session full", "该场次已约满。", "This session is fully booked."),
    AlreadyBooked = (409, "already_booked", "Already booked", "您已预约该活动。", "You already have a booking for this program."),
    CancelWindowClosed = (409, "cancel_window_closed", "Too late to cancel", "已过取消截止时间。", "It is too late to cancel this booking."),
    OutsideCheckinWindow = (409, "outside_checkin_window", "Outside the check-in window", "不在签到时间内：预约仅可在场次开始前不久至结束后不久签到，请核对预约的日期和时间。", "Outside the check-in window: a booking checks in only from shortly before its session starts until shortly after it ends; check the booking's date and time."),
    OfferLapsed = (409, "offer_lapsed", "Offer lapsed", "候补名额的确认时间已过，名额已顺延给下一位候补。", "The time to confirm this seat has passed: it goes to the next person on the waitlist."),
    BookingNotActive = (409, "booking_not_active", "Booking not active", "该预约已取消或已结束。", "This booking is cancelled or over."),
    ProgramNotDraft = (409, "program_not_draft", "Program not a draft", "该福利活动已发布或已结束，不能再修改；如需调整，请关闭后重新创建。", "Only a draft can be edited: this program is published or closed. Close it and create a new one instead."),
    SessionCancelled = (409, "session_cancelled", "Session cancelled", "该场次已取消，不再接受预约或修改。", "This session has been cancelled: it takes no bookings or changes."),
    CapacityBelowBooked = (409, "capacity_below_booked", "Capacity below seats booked", "名额不能少于已预约的人数。", "The capacity cannot be lower than the seats already booked."),
    StationClosed = (409, "station_closed", "Station closed", "该驿站已停用或暂停开放。", "This station is closed or temporarily closed."),
    CaseNotFiled = (409, "case_not_filed", "Case already decided", "该案件已受理或已处理，不能重复操作。", "This case has already been accepted or declined."),
    CaseClosed = (409, "case_closed", "Case closed", "该案件已办结或未予受理，不能再添加内容。", "This case is closed or was declined: nothing more can be added."),
    CaseNotAccepted = (409, "case_not_accepted", "Case not being handled", "该案件尚未受理，或已达成协议、已办结，不能执行此操作。", "This case is not accepted and under way: it is waiting, agreed already or closed."),
    CaseNotClosed = (409, "case_not_closed", "Case not closed", "案件办结后才能回访。", "A case is followed up once it is closed."),
    AlreadyFollowedUp = (409, "already_followed_up", "Already followed up", "该案件已回访。", "This case has been followed up already."),
    InstalmentPaid = (409, "instalment_paid", "Instalment paid already", "该期款项已登记到账。", "This instalment is recorded as paid already."),
    HouseholdAlreadyApplied = (409, "household_already_applied", "Household applied already", "该家庭已有成员在本次帮扶中提交过申请，每户限领一次。", "Someone of this household has applied in this program already: one grant per household."),
    GrantWrongState = (409, "grant_wrong_state", "Not at this step", "该申请当前不能进行此操作（可能已由他人处理）。", "The application is not at this step (someone may have handled it)."),
    NoticeNotOver = (409, "notice_not_over", "Notice not over", "公示期未满，期满后方可审批。", "The public notice is not over yet."),
    BudgetExhausted = (409, "budget_exhausted", "Budget used up", "本次帮扶资金（或本辖区额度）已用完。", "The program's budget, or the district's share, is used up."),
    NothingToPay = (409, "nothing_to_pay", "Nothing to pay", "本辖区暂无已批准待发放的申请。", "No approved application of this org's subtree is waiting to be paid."),
    PaymentNotPending = (409, "payment_not_pending", "Not waiting for payment", "该申请不在本批次的待发放名单中（可能已登记结果）。", "The application is not waiting for payment in this batch (its result may be recorded already)."),
    DocumentLimit = (409, "document_limit", "Too many files", "该申请的证明材料已达上限。", "This application holds the most documents allowed."),
    AlreadyClaimant = (409, "already_claimant", "Already a claimant", "您已是该案件的申请人。", "You are already a claimant of this case."),
    EvidenceLimit = (409, "evidence_limit", "Too many files", "该案件的证据材料已达上限。", "This case holds the most evidence files allowed."),
    IdempotencyInProgress = (409, "idempotency_in_progress", "Request in progress", "相同的请求正在处理中，请稍后重试。", "A request with this Idempotency-Key is still being processed; retry shortly."),
    PayloadTooLarge = (413, "payload_too_large", "Payload too large", "请求内容过大。", "The request body is too large."),
    UnsupportedMediaType = (415, "unsupported_media_type", "Unsupported media type", "请求内容类型不受支持，请使用 application/json。", "Unsupported content type; send application/json."),
    InvalidField = (422, "invalid_field", "Invalid value", "字段取值无效。", "A field has an invalid value."),
    MissingField = (422, "missing_field", "Missing field", "缺少必填字段。", "A required field is missing."),
    InvalidPhone = (422, "invalid_phone", "Invalid phone number", "请输入正确的中国大陆手机号（11 位）。", "Enter a valid mainland China mobile number (11 digits)."),
    WeakPassword = (422, "weak_password", "Password too weak", "密码需为 8 至 128 位，且同时包含英文字母和数字。", "The password must be 8 to 128 characters and contain a Latin letter and a digit."),
    WrongPassword = (422, "wrong_password", "Wrong current password", "当前密码不正确。", "The current password is wrong."),
    OtpInvalid = (422, "otp_invalid", "Wrong verification code", "验证码不正确。", "The verification code is wrong."),
    OtpExpired = (422, "otp_expired", "Verification code expired", "验证码已失效，请重新获取。", "The verification code has expired or was used up; request a new one."),
    InvalidIdNumber = (422, "invalid_id_number", "Invalid ID number", "身份证号码无效，请核对后重新输入。", "The resident ID number is not valid; check it and try again."),
    InvalidLegalName = (422, "invalid_legal_name", "Invalid legal name", "请输入与身份证一致的姓名。", "Enter your name as it appears on your ID card."),
    RealNameRequired = (422, "real_name_required", "Real-name profile required", "入会前请先完成实名认证。", "Complete your real-name profile before joining."),
    ConsentRequired = (422, "consent_required", "Consent required", "提交实名信息前需同意个人信息处理规则。", "You must agree to the personal information policy before submitting your real-name profile."),
    FileTooLarge = (422, "file_too_large", "File too large", "文件过大，请压缩或拆分后重新上传。", "The file is too large; make it smaller or split it and upload again."),
    UnsupportedFile = (422, "unsupported_file", "Unsupported file", "仅支持 PDF、JPG、PNG、WebP 文件，且文件须完整。", "Only whole PDF, JPEG, PNG and WebP files are accepted."),
    GrantConsentRequired = (422, "grant_consent_required", "Consent required", "提交帮扶申请前，需同意工会处理申请信息（含家庭成员身份证号、银行卡号等敏感个人信息）。", "You must agree to the union processing the application, household ID numbers and the bank card included."),
    CaseConsentRequired = (422, "case_consent_required", "Consent required", "提交维权申请前，需同意工会处理案件信息（含敏感个人信息）。", "You must agree to the union processing the case's data, which includes sensitive personal information."),
    MediatorNotStaff = (422, "mediator_not_staff", "Mediator must be staff", "调解员须是本组织或上级组织的工作人员，请先为其开通工作人员权限。", "A mediator must be staff of this org or an org above it: make the account staff first."),
    CsvInvalid = (422, "csv_invalid", "Invalid rows in file", "导入文件中有无效的行，未写入任何数据，请按行修改后重新导入。", "Some rows of the file are invalid; nothing was written. Fix the listed rows and import again."),
    IdempotencyKeyReused = (422, "idempotency_key_reused", "Idempotency-Key reused", "该 Idempotency-Key 已用于内容不同的请求。", "This Idempotency-Key was already used with a different request."),
    RateLimited = (429, "rate_limited", "Too many requests", "操作过于频繁，请稍后再试。", "Too many requests; try again later."),
    SmsBudgetExhausted = (503, "sms_budget_exhausted", "SMS budget used up", "短信发送量已达本小时上限，请稍后再试。", "This hour's SMS budget is used up; try again later."),
    Internal = (500, "internal", "Internal error", "服务暂时出现问题，请稍后再试。", "Something went wrong on our side; try again later."),
    DependencyUnavailable = (503, "dependency_unavailable", "Service unavailable", "服务暂时不可用，请稍后再试。", "The service is temporarily unavailable; try again later."),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two languages `detail` is written in; zh-CN unless the client prefers English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    ZhCn,
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language` header: the first tag naming zh or en wins.
    pub fn from_accept_language(value: Option<&str>) -> Lang {
        let Some(value) = value else {
            return Lang::ZhCn;
        };
        let mut tags: Vec<(f32, &str)> = value
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        // Stable sort keeps the header's order among equal weights.
        tags.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, tag) in tags {
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            match primary.as_str() {
                "zh" => return Lang::ZhCn,
                "en" => return Lang::En,
                _ => {}
            }
        }
        Lang::ZhCn
    }
}

/// A client-visible failure plus what only the log may see.
pub struct Error {
    code: ErrorCode,
    /// The request field at fault, for 422s: a name, or a path into the body (`items[2].lat`).
    field: Option<Cow<'static, str>>,
    retry_after: Option<Duration>,
    cause: Option<anyhow::Error>,
}

impl Error {
    pub fn new(code: ErrorCode) -> Self {
        Error {
            code,
            field: None,
            retry_after: None,
            cause: None,
        }
    }

    /// A 422 naming the field at fault.
    pub fn invalid(code: ErrorCode, field: &'static str) -> Self {
        Error::invalid_at(code, Cow::Borrowed(field))
    }

    /// A 422 naming a field found at run time (a path into a JSON body).
    pub fn invalid_at(code: ErrorCode, field: impl Into<Cow<'static, str>>) -> Self {
        Error {
            field: Some(field.into()),
            ..Error::new(code)
        }
    }

    pub fn rate_limited(retry_after: Duration) -> Self {
        Error::new(ErrorCode::RateLimited).retry_after(retry_after)
    }

    /// Adds a `Retry-After` to a refusal the client can retry later.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// An unexpected failure: the client sees `internal`, the log sees the cause.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error::new(ErrorCode::Internal).with_cause(cause)
    }

    /// A dependency (database, Redis) could not be reached: 503, cause logged.
    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Error::new(ErrorCode::DependencyUnavailable).with_cause(cause)
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The problem document in a language.
    pub fn problem(&self, lang: Lang) -> Problem {
        Problem {
            kind: "about:blank",
            title: self.code.title(),
            status: self.code.status().as_u16(),
            code: self.code.as_str(),
            detail: self.code.detail(lang),
            field: self.field.clone(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        if let Some(cause) = &self.cause {
            write!(f, ": {cause:#}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Self {
        Error::new(code)
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match e {
            D::NotFound => Error::new(ErrorCode::NotFound),
            // A connection that broke mid-query is an outage, not a bug. libpq refuses to even
            // send a query on a connection it already knows is gone (UnableToSendCommand).
            D::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Error::unavailable(e),
            other => Error::internal(other),
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::unavailable(e)
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Error::internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

/// The RFC 9457 body. `code` and `field` are extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    /// Stable machine-readable code, e.g. `sold_out`.
    pub code: &'static str,
    /// Human explanation in the language of `Accept-Language` (zh-CN default, en).
    pub detail: &'static str,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Cow<'static, str>>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// What the error middleware needs to re-render the body in the client's language and to log
/// the cause under the request id. Stored in the response's extensions.
#[derive(Clone)]
pub struct ProblemInfo {
    pub code: ErrorCode,
    pub field: Option<Cow<'static, str>>,
    pub cause: Option<String>,
}

impl ProblemInfo {
    pub fn render(&self, lang: Lang) -> Vec<u8> {
        let err = Error {
            code: self.code,
            field: self.field.clone(),
            retry_after: None,
            cause: None,
        };
        serde_json::to_vec(&err.problem(lang)).expect("problem serialises")
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let info = ProblemInfo {
            code: self.code,
            field: self.field.clone(),
            cause: self.cause.as_ref().map(|c| format!("{c:#}")),
        };
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(after) = self.retry_after {
            // Round up: a client that waits the advertised seconds must then succeed.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            res.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        let mut res = res.body(info.render(Lang::ZhCn));
        res.extensions_mut().insert(info);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_by_weight_then_order() {
        assert_eq!(Lang::from_accept_language(None), Lang::ZhCn);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Lang::ZhCn
        );
        assert_eq!(
            Lang::from_accept_language(Some("fr, en;q=0.5, zh;q=0.4")),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::ZhCn);
    }

    #[test]
    fn codes_are_unique_snake_case_and_have_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(code
                .as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(!code.detail(Lang::ZhCn).is_empty() && !code.detail(Lang::En).is_empty());
            assert_ne!(code.detail(Lang::ZhCn), code.detail(Lang::En));
        }
    }

    #[test]
    fn a_lost_database_connection_is_unavailable_not_internal() {
        use diesel::result::{DatabaseErrorKind, Error as D};
        let lost =
            |kind| D::DatabaseError(kind, Box::new("server closed the connection".to_owned()));
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            assert_eq!(
                Error::from(lost(kind)).code(),
                ErrorCode::DependencyUnavailable
            );
        }
        assert_eq!(
            Error::from(lost(DatabaseErrorKind::Unknown)).code(),
            ErrorCode::Internal
        );
    }

    #[test]
    fn internal_cause_stays_out_of_the_body() {
        let err = Error::internal(anyhow::anyhow!("SELECT secret FROM accounts failed"));
        let body = serde_json::to_string(&err.problem(Lang::En)).unwrap();
        assert!(!body.contains("secret"));
        assert!(body.contains("\"code\":\"internal\""));
        assert!(format!("{err:?}").contains("secret"));
    }
}
