//! Nearby search over a [`Snapshot`]: the query, its results, and the walk outward over the
//! grid with the distance bounds that end it early (the strategy is described in the docs of
//! `index`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::f64::consts::FRAC_PI_2;

use chrono::NaiveDateTime;

use super::grid::{col_of, key, row_of, CELL_DEG, COLS, ROWS};
use super::snapshot::{Snapshot, Station, OPEN};
use crate::coords::{haversine_with_cosines, LatLng, Micro, EARTH_RADIUS_M};
use crate::hours::Moment;
use crate::links::NavLinksTo;
use crate::vocab::MapApp;
use crate::vocab::{Amenities, StationStatus};

/// A search, already validated.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// GCJ-02.
    pub center: LatLng,
    pub radius_m: f64,
    pub limit: usize,
    /// Stations must have all of these.
    pub amenities: Amenities,
    /// Only stations open at `at`.
    pub open_only: bool,
    /// Asia/Shanghai civil time that `open_now` refers to.
    pub at: NaiveDateTime,
}

/// A search under way: the query, and its moment taken apart once.
struct Search<'a> {
    query: &'a SearchQuery,
    at: Moment,
}

/// One result, borrowed from the index while it is read.
pub struct Hit<'a> {
    pub distance_m: f64,
    station: &'a Station,
    snapshot: &'a Snapshot,
}

impl Hit<'_> {
    pub fn id(&self) -> i64 {
        self.station.id
    }
    pub fn name(&self) -> &str {
        self.snapshot.name(self.station)
    }
    pub fn address(&self) -> &str {
        self.snapshot.address(self.station)
    }
    /// GCJ-02.
    pub fn location(&self) -> LatLng {
        self.station.at
    }
    pub fn amenities(&self) -> Amenities {
        self.station.amenities
    }
    /// 1 to 5; `None` when not graded.
    pub fn stars(&self) -> Option<u8> {
        (self.station.stars > 0).then_some(self.station.stars)
    }
    pub fn status(&self) -> StationStatus {
        if self.station.state == OPEN {
            StationStatus::Open
        } else {
            StationStatus::TemporarilyClosed
        }
    }
    /// An unresolved fault report exists.
    pub fn flagged(&self) -> bool {
        self.station.open_faults > 0
    }
    pub fn open_24h(&self) -> bool {
        self.snapshot.schedules.list[self.station.schedule as usize].open_24h()
    }
    pub fn open_at(&self, at: &Moment) -> bool {
        self.snapshot.open_at(self.station, at)
    }
    /// Navigation links to the station in `map`, Baidu's web route starting `from` (BD-09).
    pub fn links(&self, map: MapApp, from: Micro) -> NavLinksTo<'_> {
        NavLinksTo {
            at: self.station.at,
            baidu: self.station.baidu,
            name: self.name(),
            map,
            from,
        }
    }
}

/// An owned result.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub location: LatLng,
    pub distance_m: f64,
    pub open_now: bool,
}

/// A distance with a total order, for the heap.
#[derive(Clone, Copy, PartialEq)]
struct Dist(f64);

impl Eq for Dist {}

impl PartialOrd for Dist {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dist {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Rounding allowance of the bounds below: relative, and absolute in degrees and metres.
const REL: f64 = 1e-9;
const ABS_DEG: f64 = 1e-12;
const ABS_M: f64 = 1e-6;

/// The best `limit` candidates so far and what that implies for the rest.
struct Best {
    heap: BinaryHeap<(Dist, i64, u32)>,
    limit: usize,
    radius_m: f64,
    center: LatLng,
    cos_lat: f64,
    /// Candidate box for the bound `box_for` (degrees), cached: a box for a larger bound
    /// only lets more candidates through to the exact test.
    box_for: f64,
    dlat: f64,
    dlng: f64,
}

impl Best {
    fn new(q: &SearchQuery) -> Best {
        let mut best = Best {
            heap: BinaryHeap::with_capacity(q.limit + 1),
            limit: q.limit,
            radius_m: q.radius_m,
            center: q.center,
            cos_lat: q.center.lat.to_radians().cos(),
            box_for: f64::INFINITY,
            dlat: 180.0,
            dlng: 180.0,
        };
        best.tighten_box();
        best
    }

    /// Anything farther than this cannot enter the result.
    fn bound(&self) -> f64 {
        if self.heap.len() == self.limit {
            self.heap.peek().map_or(self.radius_m, |top| top.0 .0)
        } else {
            self.radius_m
        }
    }

    /// Recomputes the candidate box when the bound has shrunk noticeably. A point within
    /// distance B differs by at most B/R in latitude and, since cos φ1 cos φ2 sin²(Δλ/2) ≤
    /// sin²(B/2R) with |φ2| ≤ |φ1| + B/R, by at most 2 asin(sin(B/2R) / √(cos φ1 cos(|φ1| +
    /// B/R))) in longitude.
    fn tighten_box(&mut self) {
        let bound = self.bound();
        if bound >= self.box_for * 0.9 {
            return;
        }
        let angle = bound / EARTH_RADIUS_M;
        self.dlat = angle.to_degrees() * (1.0 + REL) + ABS_DEG;
        let far = self.center.lat.abs().to_radians() + angle;
        self.dlng = if far >= FRAC_PI_2 {
            180.0
        } else {
            let ratio = (angle / 2.0).sin() / (self.cos_lat * far.cos()).sqrt();
            if ratio >= 1.0 {
                180.0
            } else {
                (2.0 * ratio.asin()).to_degrees() * (1.0 + REL) + ABS_DEG
            }
        };
        self.box_for = bound;
    }

    /// The distance to `s` if it could enter the result, `None` when it cannot (outside the
    /// candidate box, or beyond the radius or the current k-th best).
    fn distance_if_close(&self, s: &Station) -> Option<f64> {
        if (s.at.lat - self.center.lat).abs() > self.dlat {
            return None;
        }
        let mut dlng = (s.at.lng - self.center.lng).abs();
        if dlng > 180.0 {
            dlng = 360.0 - dlng;
        }
        if dlng > self.dlng {
            return None;
        }
        let d = haversine_with_cosines(self.center, self.cos_lat, s.at, s.cos_lat);
        (d <= self.bound()).then_some(d)
    }

    /// The rows the candidate box reaches, with one more each side for rounding.
    fn rows(&self) -> (i64, i64) {
        (
            row_of(self.center.lat - self.dlat) - 1,
            row_of(self.center.lat + self.dlat) + 1,
        )
    }

    /// The columns the candidate box reaches (one more each side for rounding), in the frame
    /// in which the centre lies `x` degrees east of column 0 (see `offset_in_frame`); `None`
    /// when the box is too wide to bother.
    fn cols(&self, x: f64) -> Option<(i64, i64)> {
        (self.dlng < 90.0).then(|| {
            (
                ((x - self.dlng) / CELL_DEG).floor() as i64 - 1,
                ((x + self.dlng) / CELL_DEG).floor() as i64 + 1,
            )
        })
    }

    /// The centre's offset east of column 0, in degrees, in the frame of its own column
    /// (`col_of`: a centre at 180° is in column 0).
    fn offset_in_frame(&self) -> f64 {
        let mut x = self.center.lng + 180.0;
        match ((x / CELL_DEG).floor() as i64).cmp(&0) {
            Ordering::Less => x += 360.0,
            _ if (x / CELL_DEG).floor() as i64 >= COLS => x -= 360.0,
            _ => {}
        }
        x
    }

    /// Offers a station at distance `d` (from [`Best::distance_if_close`]).
    fn consider(&mut self, d: f64, id: i64, pos: u32) {
        if d > self.radius_m {
            return;
        }
        if self.heap.len() == self.limit {
            let top = self.heap.peek().expect("a full heap has a top");
            if (Dist(d), id) >= (top.0, top.1) {
                return;
            }
            self.heap.pop();
        }
        self.heap.push((Dist(d), id, pos));
        self.tighten_box();
    }

    /// A lower bound on the distance from the centre to any point outside the block of cells
    /// `r` around the centre's cell, valid for points within `bound()` (see `tighten_box`).
    fn outside_block(&self, row0: i64, col0: i64, r: i64) -> f64 {
        let c = self.center;
        let south = if row0 - r <= 0 {
            f64::INFINITY
        } else {
            (c.lat - ((row0 - r) as f64 * CELL_DEG - 90.0)).to_radians() * EARTH_RADIUS_M
        };
        let north = if row0 + r + 1 >= ROWS {
            f64::INFINITY
        } else {
            (((row0 + r + 1) as f64 * CELL_DEG - 90.0) - c.lat).to_radians() * EARTH_RADIUS_M
        };
        let sideways = if 2 * r + 1 >= COLS {
            f64::INFINITY
        } else {
            let x = self.offset_in_frame();
            let west = x - (col0 - r) as f64 * CELL_DEG;
            let east = (col0 + r + 1) as f64 * CELL_DEG - x;
            let dl = west.min(east);
            if dl >= 180.0 {
                f64::INFINITY
            } else {
                let far = (c.lat.abs().to_radians() + self.bound() / EARTH_RADIUS_M).min(FRAC_PI_2);
                let h = (self.cos_lat * far.cos()).max(0.0).sqrt() * (dl.to_radians() / 2.0).sin();
                2.0 * EARTH_RADIUS_M * h.min(1.0).asin()
            }
        };
        south.min(north).min(sideways) * (1.0 - REL) - ABS_M
    }
}

impl Snapshot {
    /// Offers every station in the cells of `row` whose columns are in `lo..=hi` (columns may
    /// run past either end of the row; they wrap around the antimeridian).
    fn scan_row(&self, row: i64, lo: i64, hi: i64, q: &Search, best: &mut Best) {
        if !(0..ROWS).contains(&row) || self.row_starts.is_empty() {
            return;
        }
        let (lo, hi) = if hi - lo + 1 >= COLS {
            (0, COLS - 1)
        } else {
            (lo.rem_euclid(COLS), hi.rem_euclid(COLS))
        };
        if lo > hi {
            self.scan_keys(row, key(row, lo), key(row, COLS - 1), q, best);
            self.scan_keys(row, key(row, 0), key(row, hi), q, best);
        } else {
            self.scan_keys(row, key(row, lo), key(row, hi), q, best);
        }
    }

    /// Offers the stations of `row`'s cells with keys in `from..=to`: one contiguous run.
    fn scan_keys(&self, row: i64, from: u32, to: u32, q: &Search, best: &mut Best) {
        let first = self.row_starts[row as usize] as usize;
        let cells = &self.cells[first..self.row_starts[row as usize + 1] as usize];
        let a = cells.partition_point(|c| c.0 < from);
        // A few cells at most: walk them, they share cache lines with the first.
        let b = a + cells[a..].iter().take_while(|c| c.0 <= to).count();
        if a == b {
            return;
        }
        let (start, end) = (cells[a].1 as usize, self.cell_end(first + b - 1));
        for (pos, s) in (start..end).zip(&self.stations[start..end]) {
            if !s.amenities.contains_all(q.query.amenities) {
                continue;
            }
            let Some(d) = best.distance_if_close(s) else {
                continue;
            };
            // Hours last: the schedule is one more memory access.
            if q.query.open_only && !self.open_at(s, &q.at) {
                continue;
            }
            best.consider(d, s.id, pos as u32);
        }
    }

    /// The hits of a search, nearest first (ties by id).
    pub(super) fn search(&self, query: &SearchQuery) -> Vec<Hit<'_>> {
        let q = &Search {
            query,
            at: Moment::new(query.at),
        };
        let mut best = Best::new(query);
        let (row0, col0) = (row_of(query.center.lat), col_of(query.center.lng));
        let x = best.offset_in_frame();
        // Blocks of radius 0, 1, 2, 4, ... cells; each stage visits what the previous did not,
        // and of that only the cells the candidate box reaches (it shrinks as results come in).
        let mut done: Option<i64> = None;
        let mut r = 0;
        loop {
            for row in row0 - r..=row0 + r {
                let (south, north) = best.rows();
                if row < south || row > north {
                    continue;
                }
                let (mut lo, mut hi) = (col0 - r, col0 + r);
                if 2 * r + 1 < COLS {
                    if let Some((west, east)) = best.cols(x) {
                        (lo, hi) = (lo.max(west), hi.min(east));
                        if lo > hi {
                            continue;
                        }
                    }
                }
                match done {
                    Some(p) if (row - row0).abs() <= p => {
                        if 2 * p + 1 >= COLS {
                            // The previous block already spanned every column.
                        } else if 2 * r + 1 >= COLS {
                            // What is left of the row, once, however far the block reaches.
                            self.scan_row(row, col0 + p + 1, col0 + COLS - p - 1, q, &mut best);
                        } else {
                            if lo < col0 - p {
                                self.scan_row(row, lo, col0 - p - 1, q, &mut best);
                            }
                            if hi > col0 + p {
                                self.scan_row(row, col0 + p + 1, hi, q, &mut best);
                            }
                        }
                    }
                    _ => self.scan_row(row, lo, hi, q, &mut best),
                }
            }
            let everything = row0 - r <= 0 && row0 + r + 1 >= ROWS && 2 * r + 1 >= COLS;
            if everything || best.outside_block(row0, col0, r) > best.bound() {
                break;
            }
            done = Some(r);
            r = (r * 2).max(1);
        }
        self.hits(best)
    }

    /// The hits of a finished search, nearest first (ties by id).
    fn hits(&self, best: Best) -> Vec<Hit<'_>> {
        let mut hits: Vec<(Dist, i64, u32)> = best.heap.into_vec();
        hits.sort_unstable();
        // The results' names are read next, from anywhere in the text arena: touch them all
        // first, in a loop of loads that do not wait for each other, so that their cache
        // misses overlap instead of coming one after the other (they cost a tenth of a
        // request's time when they did).
        let text = self.text.as_bytes();
        let touched = hits.iter().fold(0u8, |acc, &(_, _, pos)| {
            let s = &self.stations[pos as usize];
            let (first, last) = (s.text as usize, s.text as usize + s.text_len());
            acc ^ text.get(first).copied().unwrap_or(0)
                ^ text.get(last.wrapping_sub(1)).copied().unwrap_or(0)
        });
        std::hint::black_box(touched);
        hits.into_iter()
            .map(|(d, _, pos)| Hit {
                distance_m: d.0,
                station: &self.stations[pos as usize],
                snapshot: self,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::hours::Hours;
    use crate::index::fixtures::{at, brute_force, index_of, row};
    use crate::vocab::Amenity;

    fn wrap(lng: f64) -> f64 {
        if lng > 180.0 {
            lng - 360.0
        } else if lng < -180.0 {
            lng + 360.0
        } else {
            lng
        }
    }

    #[test]
    fn search_equals_a_full_scan_everywhere_including_the_antimeridian_and_poles() {
        let mut rng = StdRng::seed_from_u64(7);
        let day = Hours::daily(&["08:00-20:00"]).unwrap();
        // Dense, sparse, on the antimeridian, at both poles, on the equator.
        let centres: [(f64, f64, f64); 6] = [
            (32.05, 118.78, 0.05),
            (31.8, 117.2, 0.6),
            (0.0, 179.99, 0.4),
            (-0.1, -179.95, 0.4),
            (89.95, 10.0, 0.3),
            (-89.9, -120.0, 0.3),
        ];
        let mut rows = Vec::new();
        let mut reference = Vec::new();
        for id in 1..=8_000i64 {
            let (clat, clng, spread) = centres[id as usize % centres.len()];
            let (lat, lng) = if id > 10 && rng.gen_bool(0.02) {
                let (_, at, _, _) = reference[rng.gen_range(0..reference.len())];
                let at: LatLng = at;
                (at.lat, at.lng)
            } else {
                (
                    (clat + rng.gen_range(-spread..spread)).clamp(-90.0, 90.0),
                    wrap(clng + rng.gen_range(-spread..spread) * 1.5),
                )
            };
            let amenities: Amenities = Amenity::ALL
                .iter()
                .copied()
                .filter(|_| rng.gen_bool(0.5))
                .collect();
            let (hours, open) = if id % 3 == 0 {
                (Hours::always(), true)
            } else {
                (day.clone(), false)
            };
            let status = if id % 50 == 0 { "closed" } else { "open" };
            rows.push(row(id, lat, lng, &amenities.to_text(), &hours, status));
            if status != "closed" {
                reference.push((id, LatLng { lat, lng }, amenities, open));
            }
        }
        let index = index_of(rows);
        let mut compared = 0;
        for i in 0..1_000 {
            let (clat, clng, spread) = centres[i % centres.len()];
            let q = SearchQuery {
                center: LatLng {
                    lat: (clat + rng.gen_range(-spread..spread)).clamp(-90.0, 90.0),
                    lng: wrap(clng + rng.gen_range(-spread..spread)),
                },
                radius_m: if i % 2 == 0 {
                    rng.gen_range(10.0..3_000.0)
                } else {
                    rng.gen_range(100.0..50_000.0)
                },
                limit: rng.gen_range(1..=100),
                amenities: Amenity::ALL
                    .iter()
                    .copied()
                    .filter(|_| rng.gen_bool(0.1))
                    .collect(),
                open_only: rng.gen_bool(0.3),
                at: at(),
            };
            let got: Vec<i64> = index.search(&q).iter().map(|f| f.id).collect();
            let expected = brute_force(&reference, &q);
            assert_eq!(got, expected, "query {i}: {q:?}");
            compared += expected.len();
        }
        assert!(compared > 10_000, "{compared}");
    }
}
