//! The grid the index is laid out on: 0.005° cells (about 550 m), each named by a key that
//! orders cells row by row (south to north), then column by column (west to east from the
//! antimeridian).

use crate::coords::LatLng;

/// Cell size in degrees: about 550 m of latitude.
pub(super) const CELL_DEG: f64 = 0.005;
pub(super) const ROWS: i64 = 36_000;
pub(super) const COLS: i64 = 72_000;

pub(super) fn row_of(lat: f64) -> i64 {
    (((lat + 90.0) / CELL_DEG).floor() as i64).clamp(0, ROWS - 1)
}

pub(super) fn col_of(lng: f64) -> i64 {
    (((lng + 180.0) / CELL_DEG).floor() as i64).rem_euclid(COLS)
}

pub(super) fn key(row: i64, col: i64) -> u32 {
    (row * COLS + col) as u32
}

pub(super) fn key_of(at: LatLng) -> u32 {
    key(row_of(at.lat), col_of(at.lng))
}

pub(super) fn row_of_key(key: u32) -> usize {
    (i64::from(key) / COLS) as usize
}
