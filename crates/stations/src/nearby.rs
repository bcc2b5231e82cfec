//! Nearby search at the HTTP edge: the query, checked field by field, and the answer, written
//! straight from the index.

use chrono::{DateTime, FixedOffset, SubsecRound, Utc};
use platform::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::coords::{digit_pair, gcj02_to_bd09, write_u64, LatLng, Micro, Point};
use crate::hours::Moment;
use crate::index::{SearchQuery, StationIndex};
use crate::links::{NavLinks, NavLinksTo};
use crate::vocab::{Amenities, Amenity, CoordSystem, MapApp, StationStatus};

pub const DEFAULT_RADIUS_M: u32 = 3_000;
pub const MAX_RADIUS_M: u32 = 50_000;
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// Query of a nearby search. Every value is checked here, so a bad one is a 422 naming it.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct NearbyParams {
    /// Latitude of the rider, -90 to 90.
    #[param(value_type = f64, minimum = -90, maximum = 90)]
    pub lat: Option<String>,
    /// Longitude of the rider, -180 to 180.
    #[param(value_type = f64, minimum = -180, maximum = 180)]
    pub lng: Option<String>,
    /// Search radius in metres, 1 to 50000 (default 3000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50000)]
    pub radius_m: Option<String>,
    /// Results, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// Comma-separated amenity codes; a station must have all of them.
    #[param(value_type = Option<Vec<Amenity>>, inline, style = Form, explode = false,
        example = "drinking_water,phone_charging")]
    pub amenities: Option<String>,
    /// `true`: only stations open now (or at `at`).
    #[param(value_type = Option<bool>)]
    pub open_now: Option<String>,
    /// System of `lat`/`lng`: `gcj02` (default, what Amap and Tencent maps give), `wgs84` (raw
    /// GPS) or `bd09` (Baidu).
    #[param(value_type = Option<CoordSystem>, inline)]
    pub coord: Option<String>,
    /// RFC 3339 moment that `open_now` refers to (default: now), e.g. the end of a shift.
    #[param(value_type = Option<String>, format = DateTime)]
    pub at: Option<String>,
    /// The map app the rider navigates with, whose links each station carries: `amap`
    /// (default), `baidu` or `both`.
    #[param(value_type = Option<MapApp>, inline)]
    pub map: Option<String>,
}

fn number<T: std::str::FromStr>(value: Option<&str>, field: &'static str) -> Result<Option<T>> {
    value
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| Error::invalid(ErrorCode::InvalidField, field))
        })
        .transpose()
}

impl NearbyParams {
    /// The search, the radius asked for, the moment `open_now` refers to, and the map app.
    pub fn query(&self) -> Result<(SearchQuery, u32, DateTime<FixedOffset>, MapApp)> {
        let missing = |field| Error::invalid(ErrorCode::InvalidField, field);
        let lat: f64 = number(self.lat.as_deref(), "lat")?.ok_or_else(|| missing("lat"))?;
        let lng: f64 = number(self.lng.as_deref(), "lng")?.ok_or_else(|| missing("lng"))?;
        let at = LatLng::parse(lat, lng)?;
        let system = match self.coord.as_deref() {
            None => CoordSystem::default(),
            Some(text) => CoordSystem::parse(text).ok_or_else(|| missing("coord"))?,
        };
        let center = system.to_gcj02(at);
        let radius_m = number(self.radius_m.as_deref(), "radius_m")?.unwrap_or(DEFAULT_RADIUS_M);
        if !(1..=MAX_RADIUS_M).contains(&radius_m) {
            return Err(Error::invalid(ErrorCode::InvalidField, "radius_m"));
        }
        let limit = number(self.limit.as_deref(), "limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(ErrorCode::InvalidField, "limit"));
        }
        let amenities = match self.amenities.as_deref() {
            None => Amenities::default(),
            Some(list) => Amenities::parse_list(list, &[','], Amenity::parse)
                .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "amenities"))?,
        };
        let open_only = match self.open_now.as_deref() {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => return Err(Error::invalid(ErrorCode::InvalidField, "open_now")),
        };
        let moment = match self.at.as_deref() {
            None => platform::clock::now().and_utc().trunc_subsecs(0),
            // A `+` that was not escaped arrives as a space.
            Some(text) => DateTime::parse_from_rfc3339(&text.trim().replace(' ', "+"))
                .map_err(|_| Error::invalid(ErrorCode::InvalidField, "at"))?
                .with_timezone(&Utc),
        };
        let map = match self.map.as_deref() {
            None => MapApp::default(),
            Some(text) => MapApp::parse(text).ok_or_else(|| missing("map"))?,
        };
        let query = SearchQuery {
            center,
            radius_m: f64::from(radius_m),
            limit,
            amenities,
            open_only,
            at: platform::clock::local(moment),
        };
        Ok((
            query,
            radius_m,
            moment.with_timezone(&platform::clock::shanghai()),
            map,
        ))
    }
}

/// The answer to a nearby search, as JSON, written straight from the index while it is read:
/// no copies of names or links.
///
/// Written by hand rather than by serde from the same view (`answer_serde` with the bench's
/// `bench-serde` feature): even under brotli, which costs some 450 us per answer, a nearby
/// request cost the server 1.10 times the same bytes served fixed with this writer and 1.21
/// times with serde (bench/README.md, stations).
pub fn answer(index: &StationIndex, params: &NearbyParams) -> Result<Vec<u8>> {
    answer_with(index, params, |nearby| nearby.to_json())
}

/// [`answer`] written by `serde_json` from the same borrowed view instead of by hand: the
/// other candidate the stations bench times against the hand-written writer, under the
/// compression phones get. Byte for byte the same answer (the bench checks every query).
#[cfg(feature = "bench-serde")]
pub fn answer_serde(index: &StationIndex, params: &NearbyParams) -> Result<Vec<u8>> {
    answer_with(index, params, |nearby| nearby.to_json_serde())
}

/// The search of `params`, its results borrowed from the index as a [`Nearby`] view while the
/// index is read, and `write` turning the view into the answer's bytes.
fn answer_with(
    index: &StationIndex,
    params: &NearbyParams,
    write: impl FnOnce(&Nearby<'_>) -> Vec<u8>,
) -> Result<Vec<u8>> {
    let (query, radius_m, at, map) = params.query()?;
    let moment = Moment::new(query.at);
    // The rider stands at the centre: where Baidu's web route starts.
    let from = Micro::of(gcj02_to_bd09(query.center));
    Ok(index.search_with(&query, |hits| {
        let items = hits
            .iter()
            .map(|hit| NearbyStation {
                id: hit.id(),
                name: hit.name(),
                address: hit.address(),
                location: hit.location().into(),
                distance_m: hit.distance_m.round() as u32,
                open_now: hit.open_at(&moment),
                open_24h: hit.open_24h(),
                status: hit.status(),
                amenities: hit.amenities(),
                stars: hit.stars(),
                flagged: hit.flagged(),
                links: hit.links(map, from),
            })
            .collect();
        write(&Nearby {
            coord: "gcj02",
            center: query.center.into(),
            radius_m,
            at,
            items,
        })
    }))
}

/// Stations around a point, nearest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Nearby<'a> {
    /// The system of every location in this answer: `gcj02`.
    pub coord: &'static str,
    /// The search centre in GCJ-02 (converted when the request gave WGS-84 or BD-09).
    pub center: Point,
    pub radius_m: u32,
    /// The moment `open_now` refers to, in Asia/Shanghai time.
    pub at: DateTime<FixedOffset>,
    pub items: Vec<NearbyStation<'a>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyStation<'a> {
    pub id: i64,
    pub name: &'a str,
    pub address: &'a str,
    /// GCJ-02.
    pub location: Point,
    /// Great-circle distance from the centre, metres.
    pub distance_m: u32,
    /// Open at `at`, by its hours and status.
    pub open_now: bool,
    pub open_24h: bool,
    /// `open` or `temporarily_closed` (closed stations are never found).
    pub status: StationStatus,
    #[schema(value_type = Vec<Amenity>)]
    pub amenities: Amenities,
    /// 1 to 5, the union's own grading.
    pub stars: Option<u8>,
    /// A fault report is unresolved: something may not work as listed.
    pub flagged: bool,
    /// One tap to route there.
    #[schema(value_type = NavLinks)]
    pub links: NavLinksTo<'a>,
}

impl Nearby<'_> {
    /// The JSON of this answer, as `serde_json` would write it (a test holds the two equal),
    /// written by hand because it is the hot path: no formatting machinery, names and
    /// addresses escaped in one pass, links straight into the buffer, nothing allocated per
    /// station.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + 1024 * self.items.len());
        out.extend_from_slice(b"{\"coord\":");
        json_str(&mut out, self.coord);
        out.extend_from_slice(b",\"center\":");
        serde_json::to_writer(&mut out, &self.center).expect("a point serialises");
        out.extend_from_slice(b",\"radius_m\":");
        write_u64(&mut out, u64::from(self.radius_m));
        out.extend_from_slice(b",\"at\":");
        serde_json::to_writer(&mut out, &self.at).expect("a time serialises");
        out.extend_from_slice(b",\"items\":[");
        let mut name = Vec::with_capacity(256);
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.write_json(&mut out, &mut name);
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// The same JSON through `serde_json`, into a buffer of the same size.
    #[cfg(any(test, feature = "bench-serde"))]
    pub fn to_json_serde(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + 1024 * self.items.len());
        serde_json::to_writer(&mut out, self).expect("an answer serialises");
        out
    }
}

impl NearbyStation<'_> {
    /// Writes the station; `name` is scratch space for its encoded name.
    fn write_json(&self, out: &mut Vec<u8>, name: &mut Vec<u8>) {
        let flag = |b: bool| if b { &b"true"[..] } else { &b"false"[..] };
        out.extend_from_slice(b"{\"id\":");
        if self.id < 0 {
            out.push(b'-');
        }
        write_u64(out, self.id.unsigned_abs());
        out.extend_from_slice(b",\"name\":");
        json_str(out, self.name);
        out.extend_from_slice(b",\"address\":");
        json_str(out, self.address);
        out.extend_from_slice(b",\"location\":{\"lat\":");
        json_degrees(out, self.location.lat);
        out.extend_from_slice(b",\"lng\":");
        json_degrees(out, self.location.lng);
        out.extend_from_slice(b"},\"distance_m\":");
        write_u64(out, u64::from(self.distance_m));
        out.extend_from_slice(b",\"open_now\":");
        out.extend_from_slice(flag(self.open_now));
        out.extend_from_slice(b",\"open_24h\":");
        out.extend_from_slice(flag(self.open_24h));
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.extend_from_slice(b"\",\"amenities\":[");
        for (i, amenity) in self.amenities.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(amenity.as_str().as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"stars\":");
        match self.stars {
            Some(stars) => write_u64(out, u64::from(stars)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"flagged\":");
        out.extend_from_slice(flag(self.flagged));
        out.extend_from_slice(b",\"links\":");
        self.links.write_json(out, name);
        out.push(b'}');
    }
}

/// A number exactly as `serde_json` writes it (shortest round-trip form).
fn json_f64(out: &mut Vec<u8>, value: f64) {
    serde_json::to_writer(out, &value).expect("a finite number serialises");
}

/// A coordinate exactly as [`json_f64`] writes it, faster for the usual case. Stored points
/// mostly have at most six decimals (what the maps' APIs give); when reading those decimals
/// back gives the same number, they without their trailing zeros are the shortest such form
/// (any other decimal with as few digits is at least a millionth away, far beyond one
/// rounding step), so they are written directly instead of through the general algorithm,
/// which cost a fifth of writing an answer.
fn json_degrees(out: &mut Vec<u8>, value: f64) {
    let micro = (value * 1e6).round();
    if !(0.001..1e9).contains(&value.abs()) || micro / 1e6 != value {
        return json_f64(out, value);
    }
    if value < 0.0 {
        out.push(b'-');
    }
    let micro = micro.abs() as u64;
    write_u64(out, micro / 1_000_000);
    let frac = micro % 1_000_000;
    if frac == 0 {
        out.extend_from_slice(b".0");
        return;
    }
    let [a, b] = digit_pair(frac / 10_000);
    let [c, d] = digit_pair(frac / 100 % 100);
    let [e, f] = digit_pair(frac % 100);
    let text = [b'.', a, b, c, d, e, f];
    let mut len = text.len();
    while text[len - 1] == b'0' {
        len -= 1;
    }
    out.extend_from_slice(&text[..len]);
}

/// A JSON string. Names and addresses almost never hold a character to escape: one pass
/// says so, and the text is copied whole.
fn json_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
        out.extend_from_slice(bytes);
    } else {
        json_escaped(out, bytes);
    }
    out.push(b'"');
}

fn json_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut clean = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        clean = i + 1;
    }
    out.extend_from_slice(&bytes[clean..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_hand_written_json_is_what_serde_writes() {
        let tricky = "站\"名\\带\n控制\u{1}字符, A&B|C";
        let at = LatLng {
            lat: -12.5,
            lng: 179.999_999_7,
        };
        let answer = Nearby {
            coord: "gcj02",
            center: Point {
                lat: 32.0415,
                lng: 118.0,
            },
            radius_m: 3_000,
            at: platform::clock::shanghai()
                .with_ymd_and_hms(2026, 11, 21, 2, 0, 0)
                .unwrap(),
            items: vec![
                NearbyStation {
                    id: 7,
                    name: tricky,
                    address: "合肥市包河区紫云路",
                    location: at.into(),
                    distance_m: 42,
                    open_now: true,
                    open_24h: false,
                    status: StationStatus::Open,
                    amenities: [Amenity::Toilet, Amenity::DrinkingWater]
                        .into_iter()
                        .collect(),
                    stars: Some(5),
                    flagged: true,
                    links: NavLinksTo::new(at, tricky, MapApp::Both, at),
                },
                NearbyStation {
                    id: 8,
                    name: "幸福驿站",
                    address: "",
                    location: Point {
                        lat: 31.7437,
                        lng: 117.3026,
                    },
                    distance_m: 0,
                    open_now: false,
                    open_24h: true,
                    status: StationStatus::TemporarilyClosed,
                    amenities: Amenities::default(),
                    stars: None,
                    flagged: false,
                    links: NavLinksTo::new(
                        LatLng {
                            lat: 31.7437,
                            lng: 117.3026,
                        },
                        "幸福驿站",
                        MapApp::Baidu,
                        at,
                    ),
                },
            ],
        };
        // Byte for byte: key order, number forms and escapes alike.
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        assert_eq!(text(answer.to_json()), text(answer.to_json_serde()));
        let empty = Nearby {
            items: Vec::new(),
            ..answer
        };
        assert_eq!(text(empty.to_json()), text(empty.to_json_serde()));
    }

    #[test]
    fn coordinates_are_written_as_serde_writes_them() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(3);
        let mut values = vec![
            0.0,
            -0.0,
            0.000_5,
            0.001,
            -0.001,
            0.001_000_1,
            0.5,
            1.0,
            -1.0,
            10.0,
            32.06077,
            118.797538,
            118.0,
            179.999_999,
            -179.999_999,
            180.0,
            -90.0,
            90.0,
            31.999_999_5,
            1e-7,
            123.456_789_012,
            1e9,
            0.1 + 0.2,
        ];
        for _ in 0..20_000 {
            let micro: i64 = rng.gen_range(-180_000_000..=180_000_000);
            values.push(micro as f64 / 1e6);
            values.push(rng.gen_range(-180.0..180.0));
            values.push(
                f64::from(rng.gen_range(-180i32..=180)) + f64::from(rng.gen_range(0..100)) / 100.0,
            );
        }
        for v in values {
            let (mut fast, mut reference) = (Vec::new(), Vec::new());
            json_degrees(&mut fast, v);
            json_f64(&mut reference, v);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(reference).unwrap(),
                "{v:e}"
            );
        }
    }

    /// The query string as the route's extractor hands it over.
    fn params(query: &str) -> NearbyParams {
        platform::extract::Query::<NearbyParams>::from_query(query)
            .unwrap()
            .into_inner()
    }

    #[test]
    fn nearby_input_is_checked_field_by_field() {
        let (q, radius, _, map) = params("lat=32.05&lng=118.78").query().unwrap();
        assert_eq!((radius, q.limit, q.open_only), (3_000, 20, false));
        assert_eq!(map, MapApp::Amap);
        let (_, _, _, map) = params("lat=32.05&lng=118.78&map=both").query().unwrap();
        assert_eq!(map, MapApp::Both);
        assert_eq!(
            q.center,
            LatLng {
                lat: 32.05,
                lng: 118.78
            }
        );
        let (wgs, _, _, _) = params("lat=32.05&lng=118.78&coord=wgs84").query().unwrap();
        assert_ne!(wgs.center, q.center);
        let (at, _, moment, _) = params("lat=1&lng=1&at=2026-11-20T23:30:00%2B08:00&open_now=true")
            .query()
            .unwrap();
        assert!(at.open_only);
        assert_eq!(moment.to_rfc3339(), "2026-11-20T23:30:00+08:00");
        // An unescaped `+` arrives as a space and is still understood.
        assert!(params("lat=1&lng=1&at=2026-11-20T23:30:00+08:00")
            .query()
            .is_ok());
        for (query, field) in [
            ("lng=118", "lat"),
            ("lat=91&lng=118", "lat"),
            ("lat=abc&lng=118", "lat"),
            ("lat=32&lng=181", "lng"),
            ("lat=32&lng=118&radius_m=50001", "radius_m"),
            ("lat=32&lng=118&radius_m=0", "radius_m"),
            ("lat=32&lng=118&limit=101", "limit"),
            ("lat=32&lng=118&amenities=water", "amenities"),
            ("lat=32&lng=118&open_now=yes", "open_now"),
            ("lat=32&lng=118&coord=mars", "coord"),
            ("lat=32&lng=118&at=tomorrow", "at"),
            ("lat=32&lng=118&map=google", "map"),
        ] {
            assert_eq!(
                params(query).query().unwrap_err().field(),
                Some(field),
                "{query}"
            );
        }
    }
}
