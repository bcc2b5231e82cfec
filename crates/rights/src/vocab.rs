//! The fixed vocabularies of rights protection, stored as snake_case text.

use platform::vocabulary;

vocabulary! {
    /// What the dispute is about.
    CaseKind {
        /// Unpaid wages or delivery fees (欠薪).
        WageArrears = "wage_arrears",
        /// Social insurance not paid in (社保).
        SocialInsurance = "social_insurance",
        /// An injury at work (工伤).
        WorkInjury = "work_injury",
        /// Whether there is a labour relation at all (劳动关系确认).
        LabourRelation = "labour_relation",
        /// A platform's fine, deduction or blocked account (平台处罚、封号).
        PlatformPenalty = "platform_penalty",
        Other = "other",
    }
}

vocabulary! {
    /// Who the worker claims against.
    RespondentKind {
        Employer = "employer",
        Platform = "platform",
        /// A labour-service or delivery contractor (配送商、劳务外包公司).
        Contractor = "contractor",
        /// A person (a team leader, a franchisee in their own name).
        Person = "person",
    }
}

vocabulary! {
    /// The handling class staff give a case when they accept it (一般、政策、复杂、特殊), which
    /// decides who handles it.
    CaseClass {
        /// Mediated by the org's mediators on duty.
        General = "general",
        /// A question of policy (social insurance, the partner bureaus answer it).
        Policy = "policy",
        /// Many claimants, large amounts or several respondents: a lawyer joins.
        Complex = "complex",
        /// Urgent or sensitive (an injury, a group of workers): the union's leadership follows it.
        Special = "special",
    }
}

vocabulary! {
    /// Where a case stands.
    CaseState {
        /// Waiting for staff to accept or decline it.
        Filed = "filed",
        /// Accepted (受理): the union is handling it.
        Accepted = "accepted",
        /// Declined, with a reason and where to turn instead.
        Declined = "declined",
    }
}

vocabulary! {
    /// An entry of a case's timeline.
    CaseEventKind {
        Filed = "filed",
        /// A colleague joined as co-claimant.
        Joined = "joined",
        /// A claimant wrote (an answer, news).
        ClaimantMessage = "claimant_message",
        /// Staff wrote to the claimants.
        StaffMessage = "staff_message",
        /// Staff wrote a note for staff only.
        StaffNote = "staff_note",
        EvidenceAdded = "evidence_added",
        Accepted = "accepted",
        Declined = "declined",
    }
}

impl CaseKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseKind::WageArrears => "欠薪",
            CaseKind::SocialInsurance => "社会保险",
            CaseKind::WorkInjury => "工伤",
            CaseKind::LabourRelation => "劳动关系确认",
            CaseKind::PlatformPenalty => "平台处罚或封号",
            CaseKind::Other => "其他",
        }
    }
}

impl CaseClass {
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseClass::General => "一般类",
            CaseClass::Policy => "政策类",
            CaseClass::Complex => "复杂类",
            CaseClass::Special => "特殊类",
        }
    }
}

impl CaseState {
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseState::Filed => "待受理",
            CaseState::Accepted => "已受理",
            CaseState::Declined => "不予受理",
        }
    }

    /// Whether claimants and staff can still add to it.
    pub fn is_open(self) -> bool {
        matches!(self, CaseState::Filed | CaseState::Accepted)
    }
}
