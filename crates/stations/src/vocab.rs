//! The fixed vocabularies of stations, stored as snake_case text.

use platform::vocabulary;

vocabulary! {
    /// What a station offers. The first six are the Hefei station's promise: warm in winter,
    /// cool in summer, water, a toilet, a seat, first aid (冷可取暖、热可纳凉、渴可喝水、急可如厕、
    /// 累可歇脚、伤可用药).
    Amenity {
        DrinkingWater = "drinking_water",
        Heating = "heating",
        Cooling = "cooling",
        Toilet = "toilet",
        RestArea = "rest_area",
        FirstAid = "first_aid",
        Microwave = "microwave",
        PhoneCharging = "phone_charging",
        BatterySwap = "battery_swap",
        EbikeCharging = "ebike_charging",
        RepairKit = "repair_kit",
        Wifi = "wifi",
        RainGear = "rain_gear",
        LegalAid = "legal_aid",
        Books = "books",
        Lockers = "lockers",
    }
}

impl Amenity {
    /// The bit of this amenity in an [`Amenities`] set (its position in the vocabulary).
    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The Chinese label staff write in spreadsheets, accepted by the CSV import.
    pub fn label_zh(self) -> &'static str {
        match self {
            Amenity::DrinkingWater => "饮用水",
            Amenity::Heating => "取暖",
            Amenity::Cooling => "纳凉",
            Amenity::Toilet => "卫生间",
            Amenity::RestArea => "休息区",
            Amenity::FirstAid => "医药箱",
            Amenity::Microwave => "微波炉",
            Amenity::PhoneCharging => "手机充电",
            Amenity::BatterySwap => "换电",
            Amenity::EbikeCharging => "电动车充电",
            Amenity::RepairKit => "维修工具",
            Amenity::Wifi => "无线网络",
            Amenity::RainGear => "雨具",
            Amenity::LegalAid => "法律援助",
            Amenity::Books => "书报",
            Amenity::Lockers => "储物柜",
        }
    }

    /// A code in any case (spreadsheets autocorrect `wifi` to `WiFi`) or a Chinese label.
    pub fn parse_any(text: &str) -> Option<Amenity> {
        Amenity::parse(&text.to_ascii_lowercase())
            .or_else(|| Amenity::ALL.iter().copied().find(|a| a.label_zh() == text))
    }
}

/// A set of amenities as a bit mask: "has all of these" is one AND in the search loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Amenities(u32);

impl Amenities {
    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn contains_all(self, wanted: Amenities) -> bool {
        self.0 & wanted.0 == wanted.0
    }

    pub fn insert(&mut self, amenity: Amenity) {
        self.0 |= amenity.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Amenity> {
        Amenity::ALL
            .iter()
            .copied()
            .filter(move |a| self.0 & a.bit() != 0)
    }

    pub fn to_vec(self) -> Vec<Amenity> {
        self.iter().collect()
    }

    /// Parses codes split by `separators`; `None` names nothing known.
    pub fn parse_list(
        text: &str,
        separators: &[char],
        parse: fn(&str) -> Option<Amenity>,
    ) -> Option<Amenities> {
        let mut set = Amenities::default();
        for part in text
            .split(separators)
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            set.insert(parse(part)?);
        }
        Some(set)
    }

    /// The stored form: codes in vocabulary order, comma-separated.
    pub fn to_text(self) -> String {
        self.iter()
            .map(Amenity::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form. Unknown codes (written by a newer version) are skipped.
    pub fn from_text(text: &str) -> Amenities {
        let mut set = Amenities::default();
        for amenity in text.split(',').filter_map(Amenity::parse) {
            set.insert(amenity);
        }
        set
    }
}

/// Serialised as the list of codes, like `Vec<Amenity>`.
impl serde::Serialize for Amenities {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl FromIterator<Amenity> for Amenities {
    fn from_iter<I: IntoIterator<Item = Amenity>>(iter: I) -> Self {
        let mut set = Amenities::default();
        for amenity in iter {
            set.insert(amenity);
        }
        set
    }
}

vocabulary! {
    /// A station's state. `closed`: no longer operating (the row stays for its visit history,
    /// staff may reopen it) and never found by search; `temporarily_closed`: found, never open.
    StationStatus {
        Open = "open",
        TemporarilyClosed = "temporarily_closed",
        Closed = "closed",
    }
}

vocabulary! {
    /// What a message on the board is.
    FeedbackKind {
        Suggestion = "suggestion",
        Fault = "fault",
    }
}

vocabulary! {
    /// Where a message on the board stands. An open fault flags its station in search.
    FeedbackStatus {
        Open = "open",
        Resolved = "resolved",
    }
}

vocabulary! {
    /// Coordinate systems: GCJ-02 is what China's maps (Amap, Tencent) use and what is stored;
    /// WGS-84 is raw GPS; BD-09 is Baidu Maps'.
    CoordSystem {
        Gcj02 = "gcj02",
        Wgs84 = "wgs84",
        Bd09 = "bd09",
    }
}

/// A `coord` left out means GCJ-02.
impl Default for CoordSystem {
    fn default() -> CoordSystem {
        CoordSystem::Gcj02
    }
}

vocabulary! {
    /// The map app a rider navigates with: which links the stations of a nearby answer carry.
    MapApp {
        Amap = "amap",
        Baidu = "baidu",
        Both = "both",
    }
}

/// A `map` left out means Amap (高德), the most used.
impl Default for MapApp {
    fn default() -> MapApp {
        MapApp::Amap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amenity_sets_round_trip_through_text_and_labels() {
        let set: Amenities = [Amenity::Toilet, Amenity::DrinkingWater]
            .into_iter()
            .collect();
        assert_eq!(set.to_text(), "drinking_water,toilet");
        assert_eq!(Amenities::from_text(&set.to_text()), set);
        assert!(set.contains_all(Amenities::from_text("toilet")));
        assert!(!set.contains_all(Amenities::from_text("toilet,wifi")));
        assert!(set.contains_all(Amenities::default()));
        assert_eq!(Amenity::parse_any("换电"), Some(Amenity::BatterySwap));
        assert_eq!(Amenity::parse_any("WiFi"), Some(Amenity::Wifi));
        assert_eq!(
            Amenities::parse_list("饮用水; wifi", &[';', ','], Amenity::parse_any),
            Some(
                [Amenity::Wifi, Amenity::DrinkingWater]
                    .into_iter()
                    .collect()
            )
        );
        assert_eq!(Amenities::parse_list("sauna", &[','], Amenity::parse), None);
        for amenity in Amenity::ALL {
            assert_eq!(serde_json::to_value(amenity).unwrap(), amenity.as_str());
        }
        assert!(Amenity::ALL.len() <= 32, "the mask is a u32");
    }
}
