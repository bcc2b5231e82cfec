//! Hardship grants (困难帮扶): a program of kind `hardship_grant` whose claim is an application
//! staff decide. Staff publish the terms ([`terms`]: amount per household, the budget and its
//! district shares, the notice days, the rules); a member or a worker whose application to
//! join is pending applies with their household ([`apply`]: one grant per household, checked by
//! keyed hash); staff review, verify, put it on the public notice and approve within the budget
//! or reject ([`review`]); approved grants are paid in batches through the finance office
//! ([`payments`]); the applicant sees every step ([`views`]) and is told ([`notify`]); staff
//! read the figures ([`stats`]).

pub mod apply;
pub mod batches;
pub mod documents;
mod notify;
pub mod order_counts;
pub mod payments;
pub mod personal_data;
pub mod review;
pub mod routes;
pub mod stats;
pub mod terms;
pub mod timeline;
pub mod views;
pub mod vocab;

pub use views::GrantApplicationView;

/// The consent purpose of grant data, and the context its sealed fields are bound to.
pub const GRANT_DATA: &str = "grant_data";
