//! The one diesel schema for both databases, kept by hand beside the migrations. Column types
//! stay within what diesel's multi backend supports on both (integers, text, bool, timestamp).

diesel::table! {
    accounts (id) {
        id -> BigInt,
        phone_hash -> Text,
        phone_enc -> Text,
        password_hash -> Text,
        is_admin -> Bool,
        created_at -> Timestamp,
        password_changed_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        tokens_revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    consents (id) {
        id -> BigInt,
        account_id -> BigInt,
        purpose -> Text,
        version -> Text,
        given_at -> Timestamp,
        withdrawn_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        account_id -> BigInt,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        rotation_replay -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    real_name_profiles (account_id) {
        account_id -> BigInt,
        legal_name -> Text,
        id_number_enc -> Text,
        id_number_hash -> Text,
        id_number_masked -> Text,
        consent_at -> Timestamp,
        consent_policy -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (scope, idem_key) {
        scope -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> Timestamp,
        account_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(refresh_tokens -> accounts (account_id));

diesel::table! {
    /// Workers signed in on the public pages (identity::web_sessions); tokens stored hashed.
    web_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        account_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Staff console sign-ins (identity::console_sessions); tokens stored hashed.
    console_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        account_id -> BigInt,
        csrf_token -> Text,
        second_factor_done -> Bool,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Browsers that passed a console second factor, per account.
    trusted_browsers (id) {
        id -> BigInt,
        token_hash -> Text,
        account_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}
diesel::joinable!(real_name_profiles -> accounts (account_id));

diesel::table! {
    orgs (id) {
        id -> BigInt,
        parent_id -> Nullable<BigInt>,
        kind -> Text,
        name -> Text,
        region_code -> Text,
        address -> Text,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    org_closure (ancestor_id, descendant_id) {
        ancestor_id -> BigInt,
        descendant_id -> BigInt,
        depth -> Integer,
    }
}

diesel::table! {
    staff_grants (id) {
        id -> BigInt,
        account_id -> BigInt,
        org_id -> BigInt,
        granted_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    join_codes (id) {
        id -> BigInt,
        code -> Text,
        org_id -> BigInt,
        label -> Text,
        expires_at -> Nullable<Timestamp>,
        max_uses -> Nullable<Integer>,
        uses -> Integer,
        auto_approve -> Bool,
        revoked_at -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    members (account_id) {
        account_id -> BigInt,
        member_no -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    member_no_counters (region_code) {
        region_code -> Text,
        last_value -> BigInt,
    }
}

diesel::table! {
    memberships (id) {
        id -> BigInt,
        account_id -> BigInt,
        org_id -> BigInt,
        join_code_id -> Nullable<BigInt>,
        status -> Text,
        occupation -> Text,
        platform -> Text,
        work_city -> Text,
        applied_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<BigInt>,
        reject_reason -> Nullable<Text>,
        started_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        end_reason -> Nullable<Text>,
    }
}

diesel::table! {
    membership_events (id) {
        id -> BigInt,
        account_id -> BigInt,
        membership_id -> BigInt,
        org_id -> BigInt,
        kind -> Text,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::joinable!(org_closure -> orgs (descendant_id));
diesel::joinable!(join_codes -> orgs (org_id));
diesel::joinable!(memberships -> orgs (org_id));
diesel::joinable!(memberships -> accounts (account_id));
diesel::joinable!(members -> accounts (account_id));
diesel::joinable!(staff_grants -> orgs (org_id));

diesel::table! {
    programs (id) {
        id -> BigInt,
        org_id -> BigInt,
        kind -> Text,
        title -> Text,
        description -> Text,
        status -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        per_member_limit -> Integer,
        eligibility -> Text,
        mode -> Text,
        stock_total -> Nullable<Integer>,
        stock_left -> Nullable<Integer>,
        voucher_valid_days -> Nullable<Integer>,
        entry_closes_at -> Nullable<Timestamp>,
        draw_seed -> Nullable<Text>,
        drawn_at -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    vouchers (id) {
        id -> BigInt,
        program_id -> BigInt,
        account_id -> BigInt,
        claim_no -> Integer,
        code -> Text,
        status -> Text,
        issued_at -> Timestamp,
        valid_until -> Nullable<Timestamp>,
        redeemed_at -> Nullable<Timestamp>,
        redeemed_by -> Nullable<BigInt>,
        reminded -> Integer,
    }
}

diesel::table! {
    draw_entries (id) {
        id -> BigInt,
        program_id -> BigInt,
        account_id -> BigInt,
        created_at -> Timestamp,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    health_sessions (id) {
        id -> BigInt,
        program_id -> BigInt,
        site_name -> Text,
        address -> Text,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        booked -> Integer,
        created_at -> Timestamp,
        cancelled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    bookings (id) {
        id -> BigInt,
        session_id -> BigInt,
        program_id -> BigInt,
        account_id -> BigInt,
        status -> Text,
        code -> Text,
        created_at -> Timestamp,
        promoted_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        checked_in_at -> Nullable<Timestamp>,
        checked_in_by -> Nullable<BigInt>,
        reminded -> Integer,
        offer_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    health_reports (id) {
        id -> BigInt,
        booking_id -> BigInt,
        account_id -> BigInt,
        program_id -> BigInt,
        summary -> Text,
        pdf_key -> Nullable<Text>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    benefit_ledger (id) {
        id -> BigInt,
        account_id -> BigInt,
        program_id -> BigInt,
        kind -> Text,
        ref_id -> Nullable<BigInt>,
        at -> Timestamp,
    }
}

mod grants;
mod rights;
pub use grants::*;
pub use rights::*;

// Every table may be joined with every other: one list, extended as tables arrive.
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    consents,
    refresh_tokens,
    console_sessions,
    web_sessions,
    trusted_browsers,
    real_name_profiles,
    idempotency_keys,
    orgs,
    org_closure,
    staff_grants,
    join_codes,
    members,
    member_no_counters,
    memberships,
    membership_events,
    programs,
    vouchers,
    draw_entries,
    health_sessions,
    bookings,
    health_reports,
    benefit_ledger,
    stations,
    stations_version,
    station_visits,
    station_visit_windows,
    station_feedback,
    audit_log,
    notifications,
    notification_deliveries,
    notification_opt_outs,
    broadcasts,
    cases,
    case_claimants,
    case_events,
    case_evidence,
    mediators,
    case_mediators,
    case_agreements,
    case_instalments,
    case_referrals,
    case_meetings,
    grant_terms,
    grant_shares,
    grant_applications,
    grant_household,
    grant_events,
    grant_batches,
    grant_payments,
    grant_documents,
    grant_order_counts,
);

diesel::table! {
    stations (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        address -> Text,
        lat -> Double,
        lng -> Double,
        amenities -> Text,
        hours -> Text,
        closed_dates -> Text,
        stars -> Nullable<SmallInt>,
        phone -> Nullable<Text>,
        photos -> Text,
        status -> Text,
        door_code -> Text,
        open_faults -> Integer,
        last_verified_at -> Nullable<Timestamp>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    stations_version (id) {
        id -> SmallInt,
        version -> BigInt,
    }
}

diesel::table! {
    station_visits (id) {
        id -> BigInt,
        station_id -> BigInt,
        account_id -> BigInt,
        at -> Timestamp,
        local_date -> Date,
        local_hour -> SmallInt,
        member -> Bool,
    }
}

diesel::table! {
    station_visit_windows (station_id, account_id) {
        station_id -> BigInt,
        account_id -> BigInt,
        counted_at -> Timestamp,
    }
}

diesel::table! {
    station_feedback (id) {
        id -> BigInt,
        station_id -> BigInt,
        account_id -> BigInt,
        kind -> Text,
        body -> Text,
        status -> Text,
        reply -> Nullable<Text>,
        replied_by -> Nullable<BigInt>,
        replied_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(stations -> orgs (org_id));
diesel::joinable!(station_feedback -> stations (station_id));

diesel::table! {
    /// One row: this database's name for the keys it keeps in Redis.
    deployment (id) {
        id -> Text,
    }
}

diesel::table! {
    /// Append-only: who did what to which record, from where (platform::audit).
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_account_id -> Nullable<BigInt>,
        actor_address -> Text,
        action -> Text,
        org_id -> Nullable<BigInt>,
        subject_account_id -> Nullable<BigInt>,
        record -> Text,
    }
}

diesel::table! {
    /// A member's inbox: what the service told them (platform::outbox).
    notifications (id) {
        id -> BigInt,
        account_id -> BigInt,
        topic -> Text,
        subject -> Text,
        title -> Text,
        body -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// A notification's way out besides the inbox (SMS), claimed by one dispatcher at a time.
    notification_deliveries (id) {
        id -> BigInt,
        notification_id -> BigInt,
        channel -> Text,
        due_at -> Timestamp,
        leased_until -> Nullable<Timestamp>,
        attempts -> Integer,
        sent_at -> Nullable<Timestamp>,
        given_up_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Topics a member turned off by SMS (the inbox keeps them).
    notification_opt_outs (account_id, topic) {
        account_id -> BigInt,
        topic -> Text,
    }
}

diesel::joinable!(notification_deliveries -> notifications (notification_id));

diesel::table! {
    /// Staff messages to the members of an org's subtree (benefits::broadcasts).
    broadcasts (id) {
        id -> BigInt,
        org_id -> BigInt,
        title -> Text,
        body -> Text,
        occupation -> Nullable<Text>,
        platform -> Nullable<Text>,
        program_id -> Nullable<BigInt>,
        recipients -> BigInt,
        sent_by -> BigInt,
        created_at -> Timestamp,
    }
}
