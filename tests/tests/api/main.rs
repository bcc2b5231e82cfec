//! The black-box suite: the real server over HTTP, one module per area. One test binary links
//! the whole server once, instead of once per area.

mod abuse;
mod audit;
mod benefits_admin;
mod benefits_concurrency;
mod benefits_journey;
mod browser_console;
mod browser_public_pages;
mod console;
mod console_case_steps;
mod console_cases;
mod console_members;
mod console_programs;
mod demo_data;
mod dependency_outages;
mod identity_journey;
mod legal_consultations;
mod member_rights;
mod membership_admin;
mod membership_concurrency;
mod membership_journey;
mod membership_rules;
mod notifications;
mod notifications_benefits;
mod openapi;
mod real_name;
mod reports;
mod rights_cases;
mod rights_mediation;
mod stations_admin;
mod stations_instances;
mod stations_search;
mod stations_support;
mod token_attacks;
mod waitlist_offers;
mod wire;
