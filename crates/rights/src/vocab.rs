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
        /// The parties agreed in mediation; the instalments are being paid.
        Agreed = "agreed",
        /// Handed to a partner agency with one reply to the worker: the union's part is done.
        Referred = "referred",
        /// Closed with its outcome and the amount recovered.
        Closed = "closed",
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
        MediatorAssigned = "mediator_assigned",
        AgreementSigned = "agreement_signed",
        InstalmentPaid = "instalment_paid",
        Referred = "referred",
        Closed = "closed",
        /// The follow-up call after closing (staff only).
        FollowedUp = "followed_up",
        MeetingScheduled = "meeting_scheduled",
    }
}

vocabulary! {
    /// Where a mediation meeting takes place.
    Venue {
        /// A mediation room (a union's, or one at the court: 诉调对接).
        Room = "room",
        /// A rest station on the riders' way.
        Station = "station",
        /// A video call.
        Video = "video",
    }
}

impl Venue {
    pub fn label_zh(self) -> &'static str {
        match self {
            Venue::Room => "调解室",
            Venue::Station => "工会驿站",
            Venue::Video => "视频调解",
        }
    }
}

vocabulary! {
    /// How a case ended.
    Outcome {
        /// Settled by mediation (调解成功).
        Mediated = "mediated",
        /// Handed to a partner agency.
        Referred = "referred",
        /// The worker withdrew it (the respondent paid of its own accord, the worker gave up).
        Withdrawn = "withdrawn",
        /// Mediation failed and the worker did not want a referral.
        Unresolved = "unresolved",
    }
}

vocabulary! {
    /// The partner agencies a case is referred to.
    Agency {
        /// 劳动人事争议仲裁委员会.
        LabourArbitration = "labour_arbitration",
        /// A court, for judicial confirmation of an agreement or a lawsuit (诉调对接).
        Court = "court",
        /// The procuratorate, supporting a worker's lawsuit (支持起诉).
        Procuratorate = "procuratorate",
        /// 劳动保障监察: wage arrears an inspector can order paid.
        LabourInspection = "labour_inspection",
    }
}

impl Outcome {
    pub fn label_zh(self) -> &'static str {
        match self {
            Outcome::Mediated => "调解成功",
            Outcome::Referred => "转交办理",
            Outcome::Withdrawn => "申请人撤回",
            Outcome::Unresolved => "调解未成功",
        }
    }
}

impl Agency {
    pub fn label_zh(self) -> &'static str {
        match self {
            Agency::LabourArbitration => "劳动人事争议仲裁委员会",
            Agency::Court => "人民法院",
            Agency::Procuratorate => "人民检察院",
            Agency::LabourInspection => "劳动保障监察机构",
        }
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
            CaseState::Agreed => "已达成协议",
            CaseState::Referred => "已转交",
            CaseState::Closed => "已办结",
        }
    }

    /// Whether claimants and staff can still add to it.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CaseState::Filed | CaseState::Accepted | CaseState::Agreed
        )
    }

    /// Accepted and under way: a mediator can be assigned.
    pub fn is_handled(self) -> bool {
        matches!(self, CaseState::Accepted | CaseState::Agreed)
    }

    /// The states of cases still open, as stored.
    pub const OPEN: [&'static str; 3] = ["filed", "accepted", "agreed"];
}
