//! Coordinates: China's three systems, great-circle distance, and the navigation links of the
//! two big map apps.
//!
//! Maps published in China must use GCJ-02, an obfuscated offset of WGS-84 (raw GPS) of up to
//! several hundred metres; Baidu adds its own further offset (BD-09). Stations are stored in
//! GCJ-02; WGS-84 input is converted at the edge, and each map app gets its own system.

use platform::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::vocab::CoordSystem;

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A point in degrees. Which system it is in is the caller's knowledge; stored points are GCJ-02.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

impl LatLng {
    /// A point within the ranges of latitude and longitude, naming the field at fault.
    pub fn parse(lat: f64, lng: f64) -> Result<LatLng> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(Error::invalid(ErrorCode::InvalidField, "lat"));
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(Error::invalid(ErrorCode::InvalidField, "lng"));
        }
        Ok(LatLng { lat, lng })
    }
}

/// A point as the API shows and takes it: `lat`, `lng` in degrees.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct Point {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

impl From<LatLng> for Point {
    fn from(p: LatLng) -> Point {
        Point {
            lat: p.lat,
            lng: p.lng,
        }
    }
}

/// Great-circle distance in metres (haversine on a sphere of the mean radius). On GCJ-02 points
/// this is off from the WGS-84 truth by far less than a metre over the distances searched,
/// because the GCJ-02 offset barely changes across a city.
pub fn haversine_m(a: LatLng, b: LatLng) -> f64 {
    haversine_with_cos(a, a.lat.to_radians().cos(), b)
}

/// [`haversine_m`] with the cosine of `a`'s latitude computed once for many `b`s (the same
/// operations in the same order: the same result to the last bit).
pub fn haversine_with_cos(a: LatLng, cos_a_lat: f64, b: LatLng) -> f64 {
    haversine_with_cosines(a, cos_a_lat, b, b.lat.to_radians().cos())
}

/// [`haversine_with_cos`] with `b`'s cosine of latitude known too (the index keeps it per
/// station); again the same result to the last bit.
pub fn haversine_with_cosines(a: LatLng, cos_a_lat: f64, b: LatLng, cos_b_lat: f64) -> f64 {
    let half_dphi = (b.lat - a.lat).to_radians() / 2.0;
    let half_dlambda = (b.lng - a.lng).to_radians() / 2.0;
    let h = half_dphi.sin().powi(2) + cos_a_lat * cos_b_lat * half_dlambda.sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

// The GCJ-02 algorithm's constants: the Krasovsky 1940 ellipsoid.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
const PI: f64 = std::f64::consts::PI;
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// GCJ-02 only applies inside this box; outside it GCJ-02 equals WGS-84.
pub fn out_of_china(p: LatLng) -> bool {
    !(72.004..=137.8347).contains(&p.lng) || !(0.8293..=55.8271).contains(&p.lat)
}

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn offset_lng(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// WGS-84 (GPS) to GCJ-02.
pub fn wgs84_to_gcj02(p: LatLng) -> LatLng {
    if out_of_china(p) {
        return p;
    }
    let dlat = offset_lat(p.lng - 105.0, p.lat - 35.0);
    let dlng = offset_lng(p.lng - 105.0, p.lat - 35.0);
    let rad_lat = p.lat / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlng = (dlng * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    LatLng {
        lat: p.lat + dlat,
        lng: p.lng + dlng,
    }
}

/// GCJ-02 to WGS-84, by fixed-point iteration of the forward transform (the offset changes so
/// slowly that a few steps reach millimetres; the one-step inverse is off by up to a couple of
/// metres).
pub fn gcj02_to_wgs84(p: LatLng) -> LatLng {
    if out_of_china(p) {
        return p;
    }
    let mut w = p;
    for _ in 0..10 {
        let g = wgs84_to_gcj02(w);
        let (dlat, dlng) = (g.lat - p.lat, g.lng - p.lng);
        w = LatLng {
            lat: w.lat - dlat,
            lng: w.lng - dlng,
        };
        if dlat.abs() < 1e-11 && dlng.abs() < 1e-11 {
            break;
        }
    }
    w
}

/// GCJ-02 to BD-09 (Baidu).
pub fn gcj02_to_bd09(p: LatLng) -> LatLng {
    let (x, y) = (p.lng, p.lat);
    let z = (x * x + y * y).sqrt() + 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * BD_X_PI).cos();
    LatLng {
        lat: z * theta.sin() + 0.006,
        lng: z * theta.cos() + 0.0065,
    }
}

/// BD-09 (Baidu) to GCJ-02.
pub fn bd09_to_gcj02(p: LatLng) -> LatLng {
    // Baidu's offset exists only over China, like GCJ-02's; applied at the poles or the date
    // line it would move a point off the globe.
    if out_of_china(p) {
        return p;
    }
    let (x, y) = (p.lng - 0.0065, p.lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BD_X_PI).cos();
    LatLng {
        lat: z * theta.sin(),
        lng: z * theta.cos(),
    }
}

impl CoordSystem {
    /// The same place in GCJ-02, the stored system.
    pub fn to_gcj02(self, p: LatLng) -> LatLng {
        match self {
            CoordSystem::Gcj02 => p,
            CoordSystem::Wgs84 => wgs84_to_gcj02(p),
            CoordSystem::Bd09 => bd09_to_gcj02(p),
        }
    }
}

/// A point to six decimals (about 0.1 m), as the links carry it: micro-degrees, rounded half
/// away from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Micro {
    pub lat: i32,
    pub lng: i32,
}

impl Micro {
    pub fn of(p: LatLng) -> Micro {
        let micro = |v: f64| {
            let m = (v.abs() * 1e6).round() as i32;
            if v < 0.0 {
                -m
            } else {
                m
            }
        };
        Micro {
            lat: micro(p.lat),
            lng: micro(p.lng),
        }
    }
}

/// `00` to `99`, for writing numbers two digits at a time.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// `n` below 100 as two digits.
pub fn digit_pair(n: u64) -> [u8; 2] {
    let i = n as usize * 2;
    [DIGIT_PAIRS[i], DIGIT_PAIRS[i + 1]]
}

/// Micro-degrees as degrees with six decimals.
pub(crate) fn write_fixed6(out: &mut Vec<u8>, micro: i32) {
    if micro < 0 {
        out.push(b'-');
    }
    let micro = micro.unsigned_abs();
    write_u64(out, u64::from(micro / 1_000_000));
    let frac = u64::from(micro % 1_000_000);
    let [a, b] = digit_pair(frac / 10_000);
    let [c, d] = digit_pair(frac / 100 % 100);
    let [e, f] = digit_pair(frac % 100);
    out.extend_from_slice(&[b'.', a, b, c, d, e, f]);
}

/// A decimal integer, without the formatting machinery (this runs several times per search
/// result), in pieces of fixed length that compile to plain stores.
pub fn write_u64(out: &mut Vec<u8>, n: u64) {
    if n < 10_000 {
        write_below_10_000(out, n);
    } else if n < 100_000_000 {
        write_below_10_000(out, n / 10_000);
        write_4_digits(out, n % 10_000);
    } else {
        write_u64(out, n / 100_000_000);
        write_4_digits(out, n / 10_000 % 10_000);
        write_4_digits(out, n % 10_000);
    }
}

fn write_below_10_000(out: &mut Vec<u8>, n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
    } else if n < 100 {
        out.extend_from_slice(&digit_pair(n));
    } else if n < 1_000 {
        let [b, c] = digit_pair(n % 100);
        out.extend_from_slice(&[b'0' + (n / 100) as u8, b, c]);
    } else {
        write_4_digits(out, n);
    }
}

/// `n` below 10,000 with leading zeros.
fn write_4_digits(out: &mut Vec<u8>, n: u64) {
    let [a, b] = digit_pair(n / 100);
    let [c, d] = digit_pair(n % 100);
    out.extend_from_slice(&[a, b, c, d]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_outside_china_keep_their_coordinates_in_every_system() {
        for (lat, lng) in [(-90.0, -180.0), (90.0, 180.0), (51.5, -0.12)] {
            let p = LatLng::parse(lat, lng).unwrap();
            for system in CoordSystem::ALL {
                let q = system.to_gcj02(p);
                assert_eq!((q.lat, q.lng), (lat, lng), "{system:?}");
            }
        }
    }

    /// Distance in metres between two nearby points, on a flat local approximation with its
    /// own constant (independent of the code under test).
    fn metres_apart(a: LatLng, b: LatLng) -> f64 {
        let m_per_deg = 111_194.93;
        let dy = (a.lat - b.lat) * m_per_deg;
        let dx = (a.lng - b.lng) * m_per_deg * a.lat.to_radians().cos();
        (dx * dx + dy * dy).sqrt()
    }

    fn p(lng: f64, lat: f64) -> LatLng {
        LatLng { lat, lng }
    }

    #[test]
    fn conversions_match_published_reference_points_within_a_metre() {
        // Published outputs of widely used implementations for Tiananmen (116.404, 39.915)
        // and for (123, 45).
        let tiananmen = p(116.404, 39.915);
        let cases = [
            (
                wgs84_to_gcj02(tiananmen),
                p(116.41024449916938, 39.91640428150164),
            ),
            (
                gcj02_to_bd09(tiananmen),
                p(116.41036949371029, 39.92133699351021),
            ),
            (
                bd09_to_gcj02(tiananmen),
                p(116.39762729119315, 39.90865673957631),
            ),
            (gcj02_to_bd09(p(123.0, 45.0)), p(123.00636499, 45.00636899)),
            (gcj02_to_wgs84(p(123.0, 45.0)), p(122.99395597, 44.99804071)),
            // The one-step published inverse, itself within a metre here.
            (
                gcj02_to_wgs84(tiananmen),
                p(116.39775550083061, 39.91359571849836),
            ),
        ];
        for (i, (got, expected)) in cases.into_iter().enumerate() {
            let off = metres_apart(got, expected);
            assert!(
                off < 1.0,
                "case {i}: {got:?} is {off:.3} m from {expected:?}"
            );
        }
    }

    #[test]
    fn round_trips_are_exact_to_millimetres() {
        for (lng, lat) in [
            (118.7969, 32.0603),
            (117.2272, 31.8206),
            (121.4737, 31.2304),
        ] {
            let wgs = p(lng, lat);
            let gcj = wgs84_to_gcj02(wgs);
            // The offset is real: hundreds of metres in eastern China.
            assert!(metres_apart(wgs, gcj) > 100.0);
            assert!(metres_apart(gcj02_to_wgs84(gcj), wgs) < 0.001);
            assert!(metres_apart(bd09_to_gcj02(gcj02_to_bd09(gcj)), gcj) < 0.5);
        }
        // Outside China nothing moves.
        let paris = p(2.3522, 48.8566);
        assert_eq!(wgs84_to_gcj02(paris), paris);
        assert_eq!(gcj02_to_wgs84(paris), paris);
    }

    #[test]
    fn haversine_agrees_with_known_distances() {
        // Nanjing Xinjiekou to Hefei Binhu: about 143 km; one degree of latitude: 111.19 km.
        let d = haversine_m(p(118.7845, 32.0415), p(117.3026, 31.7437));
        assert!((d - 143_000.0).abs() < 2_000.0, "{d}");
        let degree = haversine_m(p(118.0, 32.0), p(118.0, 33.0));
        assert!((degree - 111_195.0).abs() < 1.0, "{degree}");
        assert_eq!(haversine_m(p(118.0, 32.0), p(118.0, 32.0)), 0.0);
    }

    #[test]
    fn coordinates_in_links_have_six_decimals() {
        let mut out = Vec::new();
        for v in [118.7845, -0.0000004, -73.5, 0.0, 31.9999995] {
            let micro = Micro::of(LatLng { lat: v, lng: 0.0 }).lat;
            write_fixed6(&mut out, micro);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "118.784500 0.000000 -73.500000 0.000000 32.000000 "
        );
    }

    #[test]
    fn integers_are_written_as_rust_writes_them() {
        let mut out = Vec::new();
        let mut expected = String::new();
        for n in [
            0,
            7,
            9,
            10,
            42,
            99,
            100,
            101,
            999,
            1_000,
            9_999,
            10_000,
            12_345,
            9_999_999,
            100_000_000,
            100_000_007,
            123_456_789_012,
            u64::MAX,
        ] {
            write_u64(&mut out, n);
            out.push(b' ');
            expected.push_str(&format!("{n} "));
        }
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
