//! The words pages show for the domains' vocabularies, in Chinese or English. The API speaks
//! the codes (`gift_pack`); staff read these.

use benefits::vocab::{BookingStatus, Mode, ProgramKind, ProgramStatus};
use membership::vocab::{Occupation, OrgKind, Status};
use rights::vocab::{Agency, CaseClass, CaseKind, CaseState, Outcome, RespondentKind, Venue};

use crate::i18n::{Lang, Pick};

pub fn org_kind(lang: Lang, kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Federation => lang.t("总工会", "Federation"),
        OrgKind::City => lang.t("市级", "City"),
        OrgKind::District => lang.t("区县级", "District"),
        OrgKind::Street => lang.t("街道", "Street"),
        OrgKind::Community => lang.t("社区", "Community"),
        OrgKind::Industry => lang.t("行业工会", "Industry"),
        OrgKind::Enterprise => lang.t("企业工会", "Enterprise"),
    }
}

pub fn membership_status(lang: Lang, status: Status) -> &'static str {
    match lang {
        Lang::ZhCn => status.label_zh(),
        Lang::En => status.as_str(),
    }
}

pub fn occupation(lang: Lang, occupation: Occupation) -> &'static str {
    match lang {
        Lang::ZhCn => occupation.label_zh(),
        Lang::En => occupation.as_str(),
    }
}

pub fn program_kind(lang: Lang, kind: ProgramKind) -> &'static str {
    match kind {
        ProgramKind::GiftPack => lang.t("暖新礼包", "Gift pack"),
        ProgramKind::HealthCheck => lang.t("免费体检", "Health check"),
        ProgramKind::LegalConsultation => lang.t("法律咨询", "Legal consultation"),
        ProgramKind::HardshipGrant => lang.t("困难帮扶", "Hardship grant"),
    }
}

pub fn program_status(lang: Lang, status: ProgramStatus) -> &'static str {
    match status {
        ProgramStatus::Draft => lang.t("草稿", "Draft"),
        ProgramStatus::Published => lang.t("进行中", "Published"),
        ProgramStatus::Closed => lang.t("已结束", "Closed"),
    }
}

pub fn mode(lang: Lang, mode: Mode) -> &'static str {
    match mode {
        Mode::FirstCome => lang.t("先到先得", "First come"),
        Mode::Draw => lang.t("公平抽签", "Fair draw"),
    }
}

pub fn booking_status(lang: Lang, status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Booked => lang.t("已预约", "Booked"),
        BookingStatus::Waitlisted => lang.t("候补", "Waitlisted"),
        BookingStatus::Cancelled => lang.t("已取消", "Cancelled"),
        BookingStatus::CheckedIn => lang.t("已签到", "Checked in"),
        BookingStatus::NoShow => lang.t("未到", "No-show"),
        BookingStatus::Lapsed => lang.t("逾期未确认", "Offer lapsed"),
    }
}

pub fn case_kind(lang: Lang, kind: CaseKind) -> &'static str {
    let en = match kind {
        CaseKind::WageArrears => "Wage arrears",
        CaseKind::SocialInsurance => "Social insurance",
        CaseKind::WorkInjury => "Work injury",
        CaseKind::LabourRelation => "Labour relation",
        CaseKind::PlatformPenalty => "Platform penalty",
        CaseKind::Other => "Other",
    };
    lang.t(kind.label_zh(), en)
}

pub fn case_state(lang: Lang, state: CaseState) -> &'static str {
    let en = match state {
        CaseState::Filed => "Waiting",
        CaseState::Accepted => "Accepted",
        CaseState::Declined => "Declined",
        CaseState::Agreed => "Agreed",
        CaseState::Referred => "Referred",
        CaseState::Closed => "Closed",
    };
    lang.t(state.label_zh(), en)
}

pub fn case_class(lang: Lang, class: CaseClass) -> &'static str {
    let en = match class {
        CaseClass::General => "General",
        CaseClass::Policy => "Policy",
        CaseClass::Complex => "Complex",
        CaseClass::Special => "Special",
    };
    lang.t(class.label_zh(), en)
}

pub fn respondent_kind(lang: Lang, kind: RespondentKind) -> &'static str {
    match kind {
        RespondentKind::Employer => lang.t("用人单位", "Employer"),
        RespondentKind::Platform => lang.t("平台企业", "Platform"),
        RespondentKind::Contractor => lang.t("配送商或外包公司", "Contractor"),
        RespondentKind::Person => lang.t("个人", "Person"),
    }
}

pub fn outcome(lang: Lang, outcome: Outcome) -> &'static str {
    let en = match outcome {
        Outcome::Mediated => "Settled by mediation",
        Outcome::Referred => "Referred",
        Outcome::Withdrawn => "Withdrawn",
        Outcome::Unresolved => "Not settled",
    };
    lang.t(outcome.label_zh(), en)
}

pub fn agency(lang: Lang, agency: Agency) -> &'static str {
    let en = match agency {
        Agency::LabourArbitration => "Labour dispute arbitration committee",
        Agency::Court => "People's court",
        Agency::Procuratorate => "People's procuratorate",
        Agency::LabourInspection => "Labour inspection",
    };
    lang.t(agency.label_zh(), en)
}

pub fn venue(lang: Lang, venue: Venue) -> &'static str {
    let en = match venue {
        Venue::Room => "Mediation room",
        Venue::Station => "Rest station",
        Venue::Video => "Video call",
    };
    lang.t(venue.label_zh(), en)
}
