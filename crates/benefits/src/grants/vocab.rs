//! The fixed vocabularies of hardship grants, stored as snake_case text.

use platform::vocabulary;

vocabulary! {
    /// Why a household is in hardship.
    HardshipCause {
        /// Left without income (orders dried up, laid off).
        NoIncome = "no_income",
        Illness = "illness",
        Disaster = "disaster",
        Other = "other",
    }
}

vocabulary! {
    /// Who a household member is to the applicant.
    HouseholdRelation {
        /// The applicant (from their real-name profile).
        Applicant = "applicant",
        Spouse = "spouse",
        Child = "child",
        Parent = "parent",
        Other = "other",
    }
}

vocabulary! {
    /// How staff checked an application (核实).
    VerifyMethod {
        Phone = "phone",
        HomeVisit = "home_visit",
        Documents = "documents",
    }
}

vocabulary! {
    /// Where an application stands: submitted -> reviewed (初审) -> verified (核实) -> on_notice
    /// (公示) -> approved, or rejected from any step before approval.
    GrantState {
        Submitted = "submitted",
        Reviewed = "reviewed",
        Verified = "verified",
        OnNotice = "on_notice",
        Approved = "approved",
        Rejected = "rejected",
    }
}

impl GrantState {
    pub fn label_zh(self) -> &'static str {
        match self {
            GrantState::Submitted => "已提交，等待初审",
            GrantState::Reviewed => "初审通过，等待核实",
            GrantState::Verified => "已核实，等待公示",
            GrantState::OnNotice => "公示中",
            GrantState::Approved => "已批准，等待发放",
            GrantState::Rejected => "未获批准",
        }
    }

    /// The states a decision can still change.
    pub const PENDING: [&'static str; 4] = ["submitted", "reviewed", "verified", "on_notice"];
}

vocabulary! {
    /// A step of an application's timeline.
    GrantEventKind {
        Applied = "applied",
        Reviewed = "reviewed",
        Verified = "verified",
        Noticed = "noticed",
        Objection = "objection",
        Approved = "approved",
        Rejected = "rejected",
    }
}

impl GrantEventKind {
    /// The step in the worker's words.
    pub fn label_zh(self) -> &'static str {
        match self {
            GrantEventKind::Applied => "提交申请",
            GrantEventKind::Reviewed => "初审通过",
            GrantEventKind::Verified => "工会已核实情况",
            GrantEventKind::Noticed => "进入公示",
            GrantEventKind::Objection => "公示期间收到异议，工会正在核查",
            GrantEventKind::Approved => "审批通过",
            GrantEventKind::Rejected => "未获批准",
        }
    }
}
