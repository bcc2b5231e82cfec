//! The fixed vocabularies of benefits, stored as snake_case text.

use platform::vocabulary;

vocabulary! {
    /// What a program gives. The model takes more kinds later (insurance enrolment): a kind
    /// decides which actions a program supports.
    ProgramKind {
        HealthCheck = "health_check",
        GiftPack = "gift_pack",
        /// Time with a duty lawyer, at a station or service centre offering legal aid or by
        /// phone: booked like health checks, on sessions with seats, a waitlist and check-in.
        LegalConsultation = "legal_consultation",
        /// A one-off hardship grant (困难帮扶): the claim is an application staff decide,
        /// within a budget ([`crate::grants`]).
        HardshipGrant = "hardship_grant",
    }
}

impl ProgramKind {
    /// Whether members book seats on the program's sessions (rather than claim stock).
    pub fn has_sessions(self) -> bool {
        matches!(
            self,
            ProgramKind::HealthCheck | ProgramKind::LegalConsultation
        )
    }
}

vocabulary! {
    ProgramStatus {
        Draft = "draft",
        Published = "published",
        Closed = "closed",
    }
}

vocabulary! {
    /// How a gift pack is handed out.
    Mode {
        /// First come, first served while stock lasts.
        FirstCome = "first_come",
        /// Fair mode: members enter during a window; a seeded draw picks the winners.
        Draw = "draw",
    }
}

vocabulary! {
    VoucherStatus {
        Issued = "issued",
        Redeemed = "redeemed",
        /// Not redeemed in time; the pack went back to stock.
        Expired = "expired",
    }
}

vocabulary! {
    BookingStatus {
        Booked = "booked",
        Waitlisted = "waitlisted",
        Cancelled = "cancelled",
        CheckedIn = "checked_in",
        NoShow = "no_show",
        /// A seat offered from the waitlist that was not confirmed in time: it passed on.
        Lapsed = "lapsed",
    }
}

vocabulary! {
    /// Ledger entries: everything that happened to a member's benefits.
    LedgerKind {
        Claimed = "claimed",
        Entered = "entered",
        Won = "won",
        Lost = "lost",
        Redeemed = "redeemed",
        VoucherExpired = "voucher_expired",
        Booked = "booked",
        Waitlisted = "waitlisted",
        Promoted = "promoted",
        Cancelled = "cancelled",
        CheckedIn = "checked_in",
        NoShow = "no_show",
        ReportAttached = "report_attached",
        OfferLapsed = "offer_lapsed",
        GrantApproved = "grant_approved",
        GrantPaid = "grant_paid",
    }
}
