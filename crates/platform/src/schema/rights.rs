//! The tables of rights protection (crates/rights): cases, their claimants, timeline and
//! evidence, mediators, agreements and their instalments, referrals.

use super::orgs;

diesel::table! {
    /// Dispute cases (crates/rights).
    cases (id) {
        id -> BigInt,
        org_id -> BigInt,
        filed_by -> Nullable<BigInt>,
        kind -> Text,
        class -> Nullable<Text>,
        state -> Text,
        respondent_kind -> Text,
        respondent_name -> Text,
        respondent_code -> Nullable<Text>,
        respondent_key -> Text,
        respondent_address -> Nullable<Text>,
        respondent_contact -> Nullable<Text>,
        period_from -> Nullable<Timestamp>,
        period_to -> Nullable<Timestamp>,
        facts -> Text,
        invite_code -> Text,
        filed_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<BigInt>,
        closed_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        recovered_fen -> Nullable<BigInt>,
        rating -> Nullable<Integer>,
        followed_up_at -> Nullable<Timestamp>,
        mediation_notice_sent -> Bool,
        limitation_notice_sent -> Bool,
    }
}

diesel::table! {
    /// Mediators on an org's duty rota (bit 0 of duty_days is Monday).
    mediators (id) {
        id -> BigInt,
        org_id -> BigInt,
        account_id -> BigInt,
        duty_days -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    case_mediators (case_id) {
        case_id -> BigInt,
        mediator_account_id -> Nullable<BigInt>,
        assigned_at -> Timestamp,
        assigned_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    case_agreements (id) {
        id -> BigInt,
        case_id -> BigInt,
        total_fen -> BigInt,
        payer -> Text,
        jointly_liable -> Nullable<Text>,
        signed_at -> Timestamp,
        created_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    case_instalments (id) {
        id -> BigInt,
        agreement_id -> BigInt,
        due_on -> Timestamp,
        amount_fen -> BigInt,
        paid_at -> Nullable<Timestamp>,
        recorded_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    case_referrals (id) {
        id -> BigInt,
        case_id -> BigInt,
        agency -> Text,
        created_at -> Timestamp,
        created_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    case_claimants (id) {
        id -> BigInt,
        case_id -> BigInt,
        account_id -> Nullable<BigInt>,
        amount_claimed_fen -> BigInt,
        joined_at -> Timestamp,
    }
}

diesel::table! {
    /// A case's timeline, append-only.
    case_events (id) {
        id -> BigInt,
        case_id -> BigInt,
        at -> Timestamp,
        actor_account_id -> Nullable<BigInt>,
        kind -> Text,
        public -> Bool,
        body -> Nullable<Text>,
    }
}

diesel::table! {
    case_evidence (id) {
        id -> BigInt,
        case_id -> BigInt,
        uploaded_by -> Nullable<BigInt>,
        name -> Text,
        media_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        file_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    case_meetings (id) {
        id -> BigInt,
        case_id -> BigInt,
        starts_at -> Timestamp,
        venue -> Text,
        place -> Text,
        respondent_invited -> Bool,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(case_claimants -> cases (case_id));
diesel::joinable!(case_events -> cases (case_id));
diesel::joinable!(case_evidence -> cases (case_id));
diesel::joinable!(cases -> orgs (org_id));
