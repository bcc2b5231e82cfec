//! The words pages show for the domains' vocabularies, in Chinese or English. The API speaks
//! the codes (`gift_pack`); staff read these.

use benefits::vocab::{BookingStatus, Mode, ProgramKind, ProgramStatus};
use membership::vocab::{Occupation, OrgKind, Status};

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
