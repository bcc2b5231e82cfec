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
    /// (公示) -> approved, or rejected from any step before approval; then paying (in a batch
    /// with the finance office) -> paid, or payment_failed -> approved again once the applicant
    /// corrected the card.
    GrantState {
        Submitted = "submitted",
        Reviewed = "reviewed",
        Verified = "verified",
        OnNotice = "on_notice",
        Approved = "approved",
        Rejected = "rejected",
        Paying = "paying",
        Paid = "paid",
        PaymentFailed = "payment_failed",
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
            GrantState::Paying => "发放中",
            GrantState::Paid => "已发放",
            GrantState::PaymentFailed => "发放失败，请更正收款银行卡",
        }
    }

    /// The states a decision can still change.
    pub const PENDING: [&'static str; 4] = ["submitted", "reviewed", "verified", "on_notice"];

    /// The states of a grant approved and not (yet) paid: its amount is taken from the budget.
    pub const UNPAID: [&'static str; 3] = ["approved", "paying", "payment_failed"];

    /// Whether the grant was approved (paid or not).
    pub fn approved(self) -> bool {
        matches!(
            self,
            GrantState::Approved
                | GrantState::Paying
                | GrantState::Paid
                | GrantState::PaymentFailed
        )
    }
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
        DocumentAdded = "document_added",
        Batched = "batched",
        Paid = "paid",
        PaymentFailed = "payment_failed",
        PayoutCorrected = "payout_corrected",
    }
}

vocabulary! {
    /// How one payment attempt ended.
    PaymentOutcome {
        Pending = "pending",
        Paid = "paid",
        Failed = "failed",
    }
}

vocabulary! {
    /// Where the orders rule was checked from.
    OrdersSource {
        /// The worker's declaration (with screenshots as documents).
        Declared = "declared",
        /// A monthly order-count file staff imported for the program.
        Imported = "imported",
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
            GrantEventKind::DocumentAdded => "上传证明材料",
            GrantEventKind::Batched => "已纳入发放批次，等待财务发放",
            GrantEventKind::Paid => "补助已发放到银行卡",
            GrantEventKind::PaymentFailed => "发放失败",
            GrantEventKind::PayoutCorrected => "已更正收款银行卡，等待重新发放",
        }
    }
}
