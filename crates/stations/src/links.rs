//! One-tap navigation from a station to the rider's map app, by bicycle or e-bike.
//!
//! A nearby answer carries the links of one app, the one the rider uses (`map=amap|baidu|both`,
//! Amap by default, the most used): each link repeats the percent-encoded name, and links were
//! half the bytes of an answer. Each app gets two: Amap its universal web link (which opens the
//! app when installed) and its app scheme; Baidu its app scheme and its web route page for
//! phones without the app, which starts from the rider's position. The station's own page
//! keeps both apps' main links, and Baidu's web page of the place for a browser that opens no
//! app scheme (WeChat's).

use serde::Serialize;
use utoipa::ToSchema;

use crate::coords::{gcj02_to_bd09, write_fixed6, LatLng, Micro};
use crate::vocab::MapApp;

/// Links to a station. A nearby answer has those of the app asked for; the station's own page
/// has `amap` and `baidu`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct NavLinks {
    /// Amap (高德) in GCJ-02: opens the app when installed, the web page otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amap: Option<String>,
    /// Amap's app scheme (`amapuri://route/plan/`, Android), riding route.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amap_app: Option<String>,
    /// Baidu Maps (百度地图) app link in BD-09.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub baidu: Option<String>,
    /// Baidu's web page for phones without the app: in a nearby answer the route from the
    /// rider's position, on the station's own page the place itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub baidu_web: Option<String>,
}

impl NavLinks {
    /// The station page's links to `at` (GCJ-02) named `name`: both apps' main ones.
    pub fn to(at: LatLng, name: &str) -> NavLinks {
        let mut encoded = Vec::new();
        encode_param(&mut encoded, name);
        NavLinks {
            amap: Some(link(|out| write_amap(out, Micro::of(at), &encoded))),
            baidu: Some(link(|out| {
                write_baidu(out, Micro::of(gcj02_to_bd09(at)), &encoded)
            })),
            baidu_web: Some(link(|out| {
                write_baidu_marker(out, Micro::of(gcj02_to_bd09(at)), &encoded)
            })),
            ..NavLinks::default()
        }
    }
}

/// The links of one search result, borrowed from the index: what [`write_json`] writes.
///
/// [`write_json`]: NavLinksTo::write_json
#[derive(Debug, Clone, Copy)]
pub struct NavLinksTo<'a> {
    /// GCJ-02.
    pub at: LatLng,
    /// `at` in BD-09, converted once when the station entered the index.
    pub baidu: Micro,
    pub name: &'a str,
    /// Which app's links.
    pub map: MapApp,
    /// The rider, in BD-09: where Baidu's web route starts.
    pub from: Micro,
}

impl<'a> NavLinksTo<'a> {
    /// Links to `at` (GCJ-02) named `name` in `map`, for a rider at `rider` (GCJ-02).
    pub fn new(at: LatLng, name: &'a str, map: MapApp, rider: LatLng) -> NavLinksTo<'a> {
        NavLinksTo {
            at,
            baidu: Micro::of(gcj02_to_bd09(at)),
            name,
            map,
            from: Micro::of(gcj02_to_bd09(rider)),
        }
    }

    /// Writes the links object; `name` is scratch space for the encoded name. Links contain
    /// only unreserved URL characters, `%`-escapes and the apps' own separators, so they need
    /// no escaping inside JSON strings.
    pub fn write_json(&self, out: &mut Vec<u8>, name: &mut Vec<u8>) {
        name.clear();
        encode_param(name, self.name);
        out.push(b'{');
        if self.map != MapApp::Baidu {
            let at = Micro::of(self.at);
            out.extend_from_slice(b"\"amap\":\"");
            write_amap(out, at, name);
            out.extend_from_slice(b"\",\"amap_app\":\"");
            write_amap_app(out, at, name);
            out.push(b'"');
        }
        if self.map != MapApp::Amap {
            if self.map == MapApp::Both {
                out.push(b',');
            }
            out.extend_from_slice(b"\"baidu\":\"");
            write_baidu(out, self.baidu, name);
            out.extend_from_slice(b"\",\"baidu_web\":\"");
            write_baidu_web(out, self.baidu, self.from, name);
            out.push(b'"');
        }
        out.push(b'}');
    }
}

impl NavLinksTo<'_> {
    /// The same links as owned strings, each written alone: serde writes these, and a test
    /// holds the hand-written answer equal to it.
    fn to_links(self) -> NavLinks {
        let mut name = Vec::new();
        encode_param(&mut name, self.name);
        let (amap, baidu) = (self.map != MapApp::Baidu, self.map != MapApp::Amap);
        let at = Micro::of(self.at);
        NavLinks {
            amap: amap.then(|| link(|out| write_amap(out, at, &name))),
            amap_app: amap.then(|| link(|out| write_amap_app(out, at, &name))),
            baidu: baidu.then(|| link(|out| write_baidu(out, self.baidu, &name))),
            baidu_web: baidu
                .then(|| link(|out| write_baidu_web(out, self.baidu, self.from, &name))),
        }
    }
}

impl Serialize for NavLinksTo<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_links().serialize(serializer)
    }
}

/// One link as text.
fn link(write: impl Fn(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).expect("links are ASCII")
}

/// Amap's universal link: the app when installed (`callnative=1`), its web page otherwise.
fn write_amap(out: &mut Vec<u8>, at: Micro, encoded_name: &[u8]) {
    out.extend_from_slice(b"https://uri.amap.com/navigation?to=");
    write_fixed6(out, at.lng);
    out.push(b',');
    write_fixed6(out, at.lat);
    out.push(b',');
    out.extend_from_slice(encoded_name);
    out.extend_from_slice(b"&mode=ride&coordinate=gaode&callnative=1&src=gigunion");
}

/// Amap's app scheme: a riding route (`t=3`) to a GCJ-02 point (`dev=0`: no offset to apply).
fn write_amap_app(out: &mut Vec<u8>, at: Micro, encoded_name: &[u8]) {
    out.extend_from_slice(b"amapuri://route/plan/?dlat=");
    write_fixed6(out, at.lat);
    out.extend_from_slice(b"&dlon=");
    write_fixed6(out, at.lng);
    out.extend_from_slice(b"&dname=");
    out.extend_from_slice(encoded_name);
    out.extend_from_slice(b"&dev=0&t=3&sourceApplication=gigunion");
}

/// Baidu Maps' app scheme: a riding route to a BD-09 point.
fn write_baidu(out: &mut Vec<u8>, bd: Micro, encoded_name: &[u8]) {
    out.extend_from_slice(b"baidumap://map/direction?destination=");
    write_baidu_place(out, bd, encoded_name);
    out.extend_from_slice(b"&coord_type=bd09ll&mode=riding&src=gigunion");
}

/// Baidu's web page of a place, with its route button: what a browser with no Baidu app (or
/// WeChat's, which opens no app scheme) can show; the station's own page has no rider position.
fn write_baidu_marker(out: &mut Vec<u8>, bd: Micro, encoded_name: &[u8]) {
    out.extend_from_slice(b"https://api.map.baidu.com/marker?location=");
    write_fixed6(out, bd.lat);
    out.push(b',');
    write_fixed6(out, bd.lng);
    out.extend_from_slice(b"&title=");
    out.extend_from_slice(encoded_name);
    out.extend_from_slice(b"&content=");
    out.extend_from_slice(encoded_name);
    out.extend_from_slice(b"&output=html&coord_type=bd09ll&src=gigunion");
}

/// A place as Baidu's links name one: `latlng:lat,lng|name:...` (BD-09).
fn write_baidu_place(out: &mut Vec<u8>, bd: Micro, encoded_name: &[u8]) {
    out.extend_from_slice(b"latlng:");
    write_fixed6(out, bd.lat);
    out.push(b',');
    write_fixed6(out, bd.lng);
    out.extend_from_slice(b"|name:");
    out.extend_from_slice(encoded_name);
}

/// Baidu's web route page. Unlike the app it needs an origin: the rider's position, named
/// 我的位置 ("my position").
fn write_baidu_web(out: &mut Vec<u8>, bd: Micro, from: Micro, encoded_name: &[u8]) {
    out.extend_from_slice(b"https://api.map.baidu.com/direction?origin=");
    write_baidu_place(out, from, b"%E6%88%91%E7%9A%84%E4%BD%8D%E7%BD%AE");
    out.extend_from_slice(b"&destination=");
    write_baidu_place(out, bd, encoded_name);
    out.extend_from_slice(b"&mode=riding&coord_type=bd09ll&output=html&src=gigunion");
}

/// Each byte as a parameter value carries it: the unreserved characters of RFC 3986 as they
/// are, the rest `%`-escaped; the length last.
const PARAM_BYTES: [[u8; 4]; 256] = {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut table = [[0u8; 4]; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            [c, 0, 0, 1]
        } else {
            [b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize], 3]
        };
        b += 1;
    }
    table
};

/// Percent-encodes a parameter value: everything but unreserved characters is escaped, so a
/// name with `,`, `|` or `&` cannot break the parameter syntax of either app. (Through a buffer
/// on the stack, three bytes written per byte read: this runs for every search result.)
pub fn encode_param(out: &mut Vec<u8>, value: &str) {
    const CHUNK: usize = 64;
    let mut buf = [0u8; CHUNK * 3];
    for chunk in value.as_bytes().chunks(CHUNK) {
        let mut n = 0;
        for &b in chunk {
            let [x, y, z, len] = PARAM_BYTES[usize::from(b)];
            if let Some(slot) = buf.get_mut(n..n + 3) {
                slot.copy_from_slice(&[x, y, z]);
            }
            n += usize::from(len);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> LatLng {
        LatLng {
            lat: 32.0415,
            lng: 118.7845,
        }
    }

    fn links(map: MapApp) -> serde_json::Value {
        let links = NavLinksTo {
            at: at(),
            baidu: Micro::of(gcj02_to_bd09(at())),
            name: "新街口驿站, A&B|C",
            map,
            from: Micro::of(gcj02_to_bd09(LatLng {
                lat: 32.05,
                lng: 118.79,
            })),
        };
        let mut out = Vec::new();
        links.write_json(&mut out, &mut Vec::new());
        let written: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(written, serde_json::to_value(links).unwrap(), "{map:?}");
        written
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn a_nearby_answer_carries_the_links_of_the_app_asked_for() {
        assert_eq!(keys(&links(MapApp::Amap)), ["amap", "amap_app"]);
        assert_eq!(keys(&links(MapApp::Baidu)), ["baidu", "baidu_web"]);
        let both = links(MapApp::Both);
        assert_eq!(keys(&both), ["amap", "amap_app", "baidu", "baidu_web"]);
        let amap_app = both["amap_app"].as_str().unwrap();
        assert!(amap_app.starts_with("amapuri://route/plan/?dlat=32.041500&dlon=118.784500&dname="));
        assert!(amap_app.contains("&dev=0&t=3"));
        // Baidu's web page routes from the rider (BD-09) to the station (BD-09).
        let web = both["baidu_web"].as_str().unwrap();
        let rider = gcj02_to_bd09(LatLng {
            lat: 32.05,
            lng: 118.79,
        });
        assert!(web.starts_with(&format!(
            "https://api.map.baidu.com/direction?origin=latlng:{:.6},{:.6}|name:",
            rider.lat, rider.lng
        )));
        let station = gcj02_to_bd09(at());
        assert!(web.contains(&format!(
            "destination=latlng:{:.6},{:.6}|name:%E6%96%B0",
            station.lat, station.lng
        )));
        assert!(web.contains("mode=riding&coord_type=bd09ll&output=html"));
    }

    #[test]
    fn links_use_each_apps_own_system_and_escape_names() {
        let links = NavLinks::to(at(), "新街口驿站, A&B|C");
        let amap = links.amap.unwrap();
        assert!(amap.starts_with("https://uri.amap.com/navigation?to=118.784500,32.041500,"));
        assert!(amap.contains("coordinate=gaode"));
        assert!(!amap.contains("A&B"), "{amap}");
        let bd = gcj02_to_bd09(at());
        let baidu = links.baidu.unwrap();
        assert!(baidu.starts_with(&format!(
            "baidumap://map/direction?destination=latlng:{:.6},{:.6}|name:",
            bd.lat, bd.lng
        )));
        assert!(baidu.contains("coord_type=bd09ll"));
        assert!(baidu.contains("%E6%96%B0%E8%A1%97%E5%8F%A3")); // 新街口
        assert!(!baidu.contains(", "));
        let web = links.baidu_web.unwrap();
        assert!(web.starts_with(&format!(
            "https://api.map.baidu.com/marker?location={:.6},{:.6}&title=%E6%96%B0",
            bd.lat, bd.lng
        )));
        assert!(web.contains("&output=html&coord_type=bd09ll") && !web.contains("A&B"));
        assert_eq!(links.amap_app, None);
    }

    #[test]
    fn parameters_escape_all_but_unreserved_characters() {
        let mut encoded = Vec::new();
        encode_param(&mut encoded, &"驿站 A-z_0.~,|&".repeat(30));
        let reference: String = "驿站 A-z_0.~,|&"
            .repeat(30)
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        assert_eq!(String::from_utf8(encoded).unwrap(), reference);
    }
}
