//! The tables of hardship grants (crates/benefits/src/grants): a grant program's terms and
//! shares, the applications, their households, timeline and documents, the payment batches,
//! and the order counts staff import.

use super::{orgs, programs};

diesel::table! {
    grant_terms (program_id) {
        program_id -> BigInt,
        amount_fen -> BigInt,
        budget_fen -> BigInt,
        budget_left_fen -> BigInt,
        notice_days -> Integer,
        documents -> Text,
        rules -> Text,
    }
}

diesel::table! {
    grant_shares (program_id, org_id) {
        program_id -> BigInt,
        org_id -> BigInt,
        share_fen -> BigInt,
        left_fen -> BigInt,
    }
}

diesel::table! {
    grant_applications (id) {
        id -> BigInt,
        program_id -> BigInt,
        account_id -> Nullable<BigInt>,
        org_id -> BigInt,
        share_org_id -> Nullable<BigInt>,
        state -> Text,
        cause -> Text,
        income_fen -> BigInt,
        orders -> Text,
        declaration -> Text,
        applicant_name -> Text,
        bank_name -> Text,
        card_enc -> Text,
        card_masked -> Text,
        amount_fen -> BigInt,
        notice_until -> Nullable<Timestamp>,
        applied_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<BigInt>,
        batch_id -> Nullable<BigInt>,
        paid_at -> Nullable<Timestamp>,
        orders_source -> Text,
    }
}

diesel::table! {
    grant_household (application_id, id_hash) {
        application_id -> BigInt,
        program_id -> BigInt,
        id_hash -> Text,
        id_enc -> Text,
        name_enc -> Text,
        relation -> Text,
    }
}

diesel::table! {
    grant_events (id) {
        id -> BigInt,
        application_id -> BigInt,
        kind -> Text,
        actor_id -> Nullable<BigInt>,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    grant_batches (id) {
        id -> BigInt,
        program_id -> BigInt,
        org_id -> BigInt,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        exported_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    grant_payments (id) {
        id -> BigInt,
        batch_id -> BigInt,
        application_id -> BigInt,
        amount_fen -> BigInt,
        card_masked -> Text,
        outcome -> Text,
        reason -> Nullable<Text>,
        settled_at -> Nullable<Timestamp>,
        settled_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    grant_documents (id) {
        id -> BigInt,
        application_id -> BigInt,
        name -> Text,
        media_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        file_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    grant_order_counts (program_id, id_hash, month) {
        program_id -> BigInt,
        id_hash -> Text,
        month -> Date,
        orders -> Integer,
        source -> Text,
        imported_at -> Timestamp,
        imported_by -> Nullable<BigInt>,
    }
}

diesel::joinable!(grant_terms -> programs (program_id));
diesel::joinable!(grant_shares -> orgs (org_id));
diesel::joinable!(grant_applications -> programs (program_id));
diesel::joinable!(grant_applications -> orgs (org_id));
diesel::joinable!(grant_household -> grant_applications (application_id));
diesel::joinable!(grant_events -> grant_applications (application_id));
diesel::joinable!(grant_payments -> grant_batches (batch_id));
diesel::joinable!(grant_payments -> grant_applications (application_id));
diesel::joinable!(grant_batches -> programs (program_id));
diesel::joinable!(grant_documents -> grant_applications (application_id));
