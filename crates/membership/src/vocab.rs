//! The fixed vocabularies of membership, stored as snake_case text.

use platform::vocabulary;

vocabulary! {
    /// The level or type of a union organisation.
    OrgKind {
        Federation = "federation",
        City = "city",
        District = "district",
        Street = "street",
        Community = "community",
        Industry = "industry",
        Enterprise = "enterprise",
    }
}

vocabulary! {
    /// What the worker does for a living.
    Occupation {
        Rider = "rider",
        Courier = "courier",
        RideHailingDriver = "ride_hailing_driver",
        TruckDriver = "truck_driver",
        Other = "other",
    }
}

vocabulary! {
    /// A membership row: an application until decided, then a membership period.
    Status {
        Pending = "pending",
        Active = "active",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
        Ended = "ended",
    }
}

vocabulary! {
    /// Entries of a member's history.
    EventKind {
        Applied = "applied",
        Activated = "activated",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
        TransferredOut = "transferred_out",
        Left = "left",
    }
}

impl Occupation {
    /// The word staff use in spreadsheets (the member export's default language).
    pub fn label_zh(self) -> &'static str {
        match self {
            Occupation::Rider => "外卖骑手",
            Occupation::Courier => "快递员",
            Occupation::RideHailingDriver => "网约车司机",
            Occupation::TruckDriver => "货车司机",
            Occupation::Other => "其他",
        }
    }
}

impl Status {
    /// The word staff use in spreadsheets (the member export's default language).
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Pending => "待审核",
            Status::Active => "在会",
            Status::Rejected => "未通过",
            Status::Withdrawn => "已撤回",
            Status::Ended => "已离会",
        }
    }
}
