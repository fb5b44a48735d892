//! Carrier tracking numbers: the carriers we know, the shape and check digit of each one's
//! numbers, the public page that tracks a parcel, and the numbers the built-in table-rated
//! carrier issues for the labels it renders.
//!
//! Pure: nothing here asks a carrier anything. A number that passes
//! [`validate_tracking_number`] is well formed for its carrier, not known to exist.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::stored_enum! {
    /// A parcel carrier whose tracking numbers we can check and link to.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum CarrierKind {
        Ups = "ups",
        Fedex = "fedex",
        Usps = "usps",
        DhlExpress = "dhl_express",
    }
}

impl CarrierKind {
    /// The carrier's name as printed on labels and in messages (`UPS`, `FedEx`, ...).
    pub const fn display_name(self) -> &'static str {
        match self {
            Self::Ups => "UPS",
            Self::Fedex => "FedEx",
            Self::Usps => "USPS",
            Self::DhlExpress => "DHL Express",
        }
    }
}

crate::stored_enum! {
    /// Where a parcel is, as the carrier reports it.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum TrackingStatus {
        /// A label exists; the carrier has not seen the parcel yet.
        LabelCreated = "label_created",
        /// The carrier has taken the parcel in.
        Accepted = "accepted",
        /// Moving through the carrier's network.
        InTransit = "in_transit",
        /// On the vehicle that will deliver it today.
        OutForDelivery = "out_for_delivery",
        /// Delivery was tried and failed; the carrier will try again or hold it.
        AttemptedDelivery = "attempted_delivery",
        /// Something went wrong (damage, customs, a bad address) and needs attention.
        Exception = "exception",
        /// On its way back to the shipper, or back already.
        ReturnedToSender = "returned_to_sender",
        /// Handed over at the destination.
        Delivered = "delivered",
    }
}

/// Checks `number` against `carrier`'s format and returns it normalized: whitespace removed
/// (inside as well as around, since numbers are often copied in groups) and uppercased.
///
/// # Rules
/// - **UPS**: `1Z`, 6 letters or digits (shipper), 2 digits (service), 7 letters or digits
///   (package) and a check digit; 18 characters. The check digit is UPS's published mod 10
///   over the 15 characters after `1Z`: letters count as `(letter - 'A' + 2) % 10` (A=2 ...
///   H=9, I=0 ... R=9, S=0 ... Z=7), characters in odd positions are added, those in even
///   positions doubled and added, and the check is `(10 - sum % 10) % 10`.
/// - **USPS**: 20 to 22 digits, the last a mod 10 check digit (USPS Publication 199):
///   weights 3, 1, 3, ... from the digit just left of the check digit, check
///   `(10 - sum % 10) % 10`.
/// - **FedEx**: 12 or 15 digits, no check digit. FedEx does not publish its algorithms; the
///   community-derived 12-digit one is not known to hold for every number FedEx issues, and a
///   wrong rejection would block a real shipment where a typo only costs an empty tracking
///   page, so only the length and digits are checked.
/// - **DHL Express**: 10 digits, the last being the first nine read as a number, mod 7.
///
/// # Returns
/// The normalized number, or a reason that reads after a field name: "is not a UPS tracking
/// number: the check digit should be 4".
pub fn validate_tracking_number(carrier: CarrierKind, number: &str) -> Result<String, String> {
    let normalized: String = number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let reject = |why: String| {
        Err(format!(
            "is not a {} tracking number: {why}",
            carrier.display_name()
        ))
    };
    if normalized.is_empty() {
        return reject("it is empty".into());
    }
    if let Some(c) = normalized.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return reject(format!("`{c}` is neither a letter nor a digit"));
    }
    let bytes = normalized.as_bytes();
    let all_digits = bytes.iter().all(u8::is_ascii_digit);
    match carrier {
        CarrierKind::Ups => {
            if !normalized.starts_with("1Z") {
                return reject("it should start with 1Z".into());
            }
            if bytes.len() != 18 {
                return reject(format!(
                    "it should be 18 characters (1Z and 16 more), not {}",
                    bytes.len()
                ));
            }
            if !bytes[8..10].iter().all(u8::is_ascii_digit) {
                return reject("characters 9 and 10 (the service code) should be digits".into());
            }
            let expected = ups_check_digit(&bytes[2..17]);
            if bytes[17] != b'0' + expected {
                return reject(format!("the check digit should be {expected}"));
            }
        }
        CarrierKind::Usps => {
            if !all_digits {
                return reject("it should be digits only".into());
            }
            if !(20..=22).contains(&bytes.len()) {
                return reject(format!("it should be 20 to 22 digits, not {}", bytes.len()));
            }
            let (body, check) = bytes.split_at(bytes.len() - 1);
            let expected = usps_check_digit(body);
            if check[0] != b'0' + expected {
                return reject(format!("the check digit should be {expected}"));
            }
        }
        CarrierKind::Fedex => {
            if !all_digits {
                return reject("it should be digits only".into());
            }
            if bytes.len() != 12 && bytes.len() != 15 {
                return reject(format!("it should be 12 or 15 digits, not {}", bytes.len()));
            }
        }
        CarrierKind::DhlExpress => {
            if !all_digits {
                return reject("it should be digits only".into());
            }
            if bytes.len() != 10 {
                return reject(format!("it should be 10 digits, not {}", bytes.len()));
            }
            let expected = dhl_check_digit(&bytes[..9]);
            if bytes[9] != b'0' + expected {
                return reject(format!("the check digit should be {expected}"));
            }
        }
    }
    Ok(normalized)
}

/// The carrier's public page tracking `number` (best given normalized; it is percent-encoded
/// either way, so nothing in it can change the URL's meaning).
pub fn tracking_url(carrier: CarrierKind, number: &str) -> String {
    let base = match carrier {
        CarrierKind::Ups => "https://www.ups.com/track?tracknum=",
        CarrierKind::Fedex => "https://www.fedex.com/fedextrack/?trknbr=",
        CarrierKind::Usps => "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
        CarrierKind::DhlExpress => "https://www.dhl.com/en/express/tracking.html?AWB=",
    };
    let mut url = String::from(base);
    for byte in number.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// A valid number in `carrier`'s format, the same for the same `seed`: the built-in
/// table-rated carrier issues these for the labels it renders.
///
/// The seed is scrambled into the number's free digits (an affine map modulo a power of ten,
/// which is a bijection), so consecutive seeds give unrelated-looking numbers and distinct
/// seeds below 10^9 give distinct numbers for every carrier (larger seeds wrap around).
/// - UPS: `1ZSS` + 4 digits (shipper `SSnnnn`) + service `01` + 7 digits + check digit.
/// - USPS: `9400` + 17 digits + check digit (22 digits).
/// - FedEx: 12 digits.
/// - DHL Express: 9 digits + the mod 7 check digit.
pub fn generate_tracking_number(carrier: CarrierKind, seed: u64) -> String {
    match carrier {
        CarrierKind::Ups => {
            let digits = scramble(seed, 11);
            let body = format!("SS{}01{}", &digits[..4], &digits[4..]);
            let check = ups_check_digit(body.as_bytes());
            format!("1Z{body}{check}")
        }
        CarrierKind::Usps => {
            let body = format!("9400{}", scramble(seed, 17));
            let check = usps_check_digit(body.as_bytes());
            format!("{body}{check}")
        }
        CarrierKind::Fedex => scramble(seed, 12),
        CarrierKind::DhlExpress => {
            let body = scramble(seed, 9);
            let check = dhl_check_digit(body.as_bytes());
            format!("{body}{check}")
        }
    }
}

/// `seed` mapped one-to-one onto `digits` decimal digits (zero-padded): `(seed * A + B) mod
/// 10^digits`. `A` ends in 7, so it shares no factor with any power of ten and the map is a
/// bijection on `0..10^digits`.
fn scramble(seed: u64, digits: u32) -> String {
    const A: u128 = 2_862_933_555_777_941_757;
    const B: u128 = 1_442_695_040_888_963_407;
    let modulus = 10u128.pow(digits);
    let x = u128::from(seed) % modulus;
    let value = (x * (A % modulus) + B % modulus) % modulus;
    format!("{value:0width$}", width = digits as usize)
}

/// A UPS character's value in the check digit: digits as themselves, letters
/// `(letter - 'A' + 2) % 10`.
fn ups_value(c: u8) -> u32 {
    if c.is_ascii_digit() {
        u32::from(c - b'0')
    } else {
        (u32::from(c.to_ascii_uppercase().saturating_sub(b'A')) + 2) % 10
    }
}

/// UPS's check digit over the 15 characters after `1Z`: odd positions (1st, 3rd, ...) added,
/// even ones doubled and added.
fn ups_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(i, &c)| ups_value(c) * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// USPS's mod 10 check digit over `body` (ASCII digits): weight 3 on the rightmost digit,
/// then 1, 3, ... leftwards.
fn usps_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// DHL Express's check digit: `body` (nine ASCII digits) as a number, mod 7.
fn dhl_check_digit(body: &[u8]) -> u8 {
    let value = body
        .iter()
        .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
    (value % 7) as u8
}

/// Each carrier's own event codes, as its tracking feeds and webhooks send them, and what they
/// mean in the canonical vocabulary. Every code a carrier sends must be listed: an unlisted
/// code is refused (and logged), never filed under a catch-all.
const CARRIER_CODES: &[(CarrierKind, &[(&str, TrackingStatus)])] = {
    use TrackingStatus as T;
    &[
        (
            CarrierKind::Ups,
            &[
                ("M", T::LabelCreated),
                ("P", T::Accepted),
                ("I", T::InTransit),
                ("O", T::OutForDelivery),
                ("A", T::AttemptedDelivery),
                ("X", T::Exception),
                ("RS", T::ReturnedToSender),
                ("D", T::Delivered),
            ],
        ),
        (
            CarrierKind::Fedex,
            &[
                ("OC", T::LabelCreated),
                ("PU", T::Accepted),
                ("AR", T::InTransit),
                ("DP", T::InTransit),
                ("IT", T::InTransit),
                ("OD", T::OutForDelivery),
                ("DE", T::AttemptedDelivery),
                ("SE", T::Exception),
                ("RS", T::ReturnedToSender),
                ("DL", T::Delivered),
            ],
        ),
        (
            CarrierKind::Usps,
            &[
                ("GX", T::LabelCreated),
                ("03", T::Accepted),
                ("07", T::InTransit),
                ("10", T::InTransit),
                ("OF", T::OutForDelivery),
                ("02", T::AttemptedDelivery),
                ("21", T::Exception),
                ("09", T::ReturnedToSender),
                ("01", T::Delivered),
            ],
        ),
        (
            CarrierKind::DhlExpress,
            &[
                ("SA", T::LabelCreated),
                ("PU", T::Accepted),
                ("AF", T::InTransit),
                ("DF", T::InTransit),
                ("PL", T::InTransit),
                ("WC", T::OutForDelivery),
                ("NH", T::AttemptedDelivery),
                ("OH", T::Exception),
                ("RT", T::ReturnedToSender),
                ("OK", T::Delivered),
            ],
        ),
    ]
};

/// What a carrier's event `code` means. A custom carrier (`None`) speaks the canonical
/// vocabulary itself (`in_transit`, ...). `None` when the code is not the carrier's.
pub fn canonical_status(carrier: Option<CarrierKind>, code: &str) -> Option<TrackingStatus> {
    let code = code.trim();
    match carrier {
        None => TrackingStatus::parse(code),
        Some(kind) => CARRIER_CODES
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, codes)| codes.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)))
            .map(|(_, status)| *status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const UPS_SAMPLE: &str = "1Z999AA10123456784";
    const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /// Appends the USPS check digit to `body`.
    fn usps_with_check(body: &str) -> String {
        format!("{body}{}", usps_check_digit(body.as_bytes()))
    }

    /// `number` with the character at `at` replaced by `c`.
    fn replaced(number: &str, at: usize, c: u8) -> String {
        let mut bytes = number.as_bytes().to_vec();
        bytes[at] = c;
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn enums_are_spelled_alike_in_serde_and_storage() {
        for &kind in CarrierKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::String(kind.as_str().into()))
            );
            assert_eq!(CarrierKind::parse(kind.as_str()), Some(kind));
        }
        for &status in TrackingStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::Value::String(status.as_str().into()))
            );
            assert_eq!(TrackingStatus::parse(status.as_str()), Some(status));
        }
        let carriers: Vec<&str> = CarrierKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(carriers, ["ups", "fedex", "usps", "dhl_express"]);
        let statuses: Vec<&str> = TrackingStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            statuses,
            [
                "label_created",
                "accepted",
                "in_transit",
                "out_for_delivery",
                "attempted_delivery",
                "exception",
                "returned_to_sender",
                "delivered",
            ]
        );
    }

    #[test]
    fn ups_letters_map_as_the_published_table_says() {
        // The published table: A=2 B=3 ... H=9 I=0 J=1 ... R=9 S=0 T=1 ... Z=7.
        let table = "23456789012345678901234567";
        for (letter, expected) in (b'A'..=b'Z').zip(table.bytes()) {
            assert_eq!(ups_value(letter), u32::from(expected - b'0'), "{letter}");
        }
    }

    #[test]
    fn the_documented_ups_sample_validates() {
        assert_eq!(
            validate_tracking_number(CarrierKind::Ups, UPS_SAMPLE).as_deref(),
            Ok(UPS_SAMPLE)
        );
        // Worked by hand: after 1Z, 9 9 9 A(2) A(2) 1 0 1 2 3 4 5 6 7 8; odd positions add to
        // 40, even ones to 28, doubled 56; 96 leaves 4.
        assert_eq!(ups_check_digit(&UPS_SAMPLE.as_bytes()[2..17]), 4);
    }

    #[test]
    fn ups_any_altered_character_fails_but_for_the_check_digits_blind_spots() {
        for at in 0..UPS_SAMPLE.len() {
            let original = UPS_SAMPLE.as_bytes()[at];
            let mut rejected = 0;
            for &c in ALPHANUMERIC.iter().filter(|&&c| c != original) {
                let altered = replaced(UPS_SAMPLE, at, c);
                if validate_tracking_number(CarrierKind::Ups, &altered).is_err() {
                    rejected += 1;
                    continue;
                }
                // What a mod 10 check cannot see: a character with the same value (2 and A,
                // K, U all count 2), or a change of 5 in a doubled position.
                let (old, new) = (ups_value(original), ups_value(c));
                let doubled = at >= 2 && (at - 2) % 2 == 1;
                assert!(
                    (2..17).contains(&at) && (old == new || (doubled && old.abs_diff(new) == 5)),
                    "{altered} should not validate"
                );
            }
            assert!(rejected > 0, "nothing at {at} was caught");
        }
        // The prefix and the check digit itself catch every change.
        for at in [0, 1, 17] {
            for &c in ALPHANUMERIC
                .iter()
                .filter(|&&c| c != UPS_SAMPLE.as_bytes()[at])
            {
                assert!(
                    validate_tracking_number(CarrierKind::Ups, &replaced(UPS_SAMPLE, at, c))
                        .is_err()
                );
            }
        }
    }

    #[test]
    fn ups_reasons_say_what_is_wrong() {
        let check = |n: &str| validate_tracking_number(CarrierKind::Ups, n);
        assert_eq!(
            check("1Z999AA10123456780"),
            Err("is not a UPS tracking number: the check digit should be 4".into())
        );
        assert_eq!(
            check("2Z999AA10123456784"),
            Err("is not a UPS tracking number: it should start with 1Z".into())
        );
        assert_eq!(
            check("1Z999AA1012345678"),
            Err(
                "is not a UPS tracking number: it should be 18 characters (1Z and 16 more), not 17"
                    .into()
            )
        );
        assert_eq!(
            check("1Z999AA1AB23456784"),
            Err(
                "is not a UPS tracking number: characters 9 and 10 (the service code) should be digits"
                    .into()
            )
        );
        assert_eq!(
            check("1Z999AA1012345678X"),
            Err("is not a UPS tracking number: the check digit should be 4".into())
        );
        assert_eq!(
            check("1Z999-AA10123456784"),
            Err("is not a UPS tracking number: `-` is neither a letter nor a digit".into())
        );
        assert_eq!(
            check("   "),
            Err("is not a UPS tracking number: it is empty".into())
        );
    }

    #[test]
    fn numbers_are_normalized() {
        assert_eq!(
            validate_tracking_number(CarrierKind::Ups, " 1z 999 aa1 01 2345 6784\t").as_deref(),
            Ok(UPS_SAMPLE)
        );
        let usps = usps_with_check("940011189922310000000");
        let grouped = format!(" {} {} ", &usps[..4], &usps[4..]);
        assert_eq!(
            validate_tracking_number(CarrierKind::Usps, &grouped),
            Ok(usps)
        );
    }

    #[test]
    fn usps_check_digit_follows_publication_199() {
        // Worked by hand for 9400111899223100000000: of the 21 digits before the check digit,
        // those weighted 3 (odd places from the right) are 9 0 1 1 9 2 3 = 25, the others
        // 4 0 1 8 9 2 1 = 25; 75 + 25 = 100, so the check digit is 0.
        assert_eq!(
            validate_tracking_number(CarrierKind::Usps, "9400111899223100000000").as_deref(),
            Ok("9400111899223100000000")
        );
        for body in [
            "9400111899223100000",
            "94001118992231000000",
            "940011189922310000000",
        ] {
            let number = usps_with_check(body);
            assert_eq!(
                validate_tracking_number(CarrierKind::Usps, &number).as_deref(),
                Ok(number.as_str()),
                "{} digits",
                number.len()
            );
        }
        // The widely copied sample "9400 1000 0000 0000 0000 00" is not check-valid: its
        // digits add to 34, so it would have to end in 6.
        assert_eq!(
            validate_tracking_number(CarrierKind::Usps, "9400 1000 0000 0000 0000 00"),
            Err("is not a USPS tracking number: the check digit should be 6".into())
        );
        assert!(validate_tracking_number(CarrierKind::Usps, "9400100000000000000006").is_ok());
    }

    #[test]
    fn usps_catches_every_single_digit_change() {
        // Weights 1 and 3 share no factor with 10, so any one changed digit moves the sum.
        let number = usps_with_check("940011189922310004217");
        for at in 0..number.len() {
            for c in b'0'..=b'9' {
                if c != number.as_bytes()[at] {
                    assert!(
                        validate_tracking_number(CarrierKind::Usps, &replaced(&number, at, c))
                            .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn usps_reasons_say_what_is_wrong() {
        let check = |n: &str| validate_tracking_number(CarrierKind::Usps, n);
        assert_eq!(
            check(&"9".repeat(19)),
            Err("is not a USPS tracking number: it should be 20 to 22 digits, not 19".into())
        );
        assert_eq!(
            check(&"9".repeat(23)),
            Err("is not a USPS tracking number: it should be 20 to 22 digits, not 23".into())
        );
        assert_eq!(
            check("9400A00000000000000000"),
            Err("is not a USPS tracking number: it should be digits only".into())
        );
    }

    #[test]
    fn fedex_takes_12_or_15_digits() {
        let check = |n: &str| validate_tracking_number(CarrierKind::Fedex, n);
        assert_eq!(check("1234 5678 9012").as_deref(), Ok("123456789012"));
        assert_eq!(check("123456789012345").as_deref(), Ok("123456789012345"));
        assert_eq!(
            check("1234567890123"),
            Err("is not a FedEx tracking number: it should be 12 or 15 digits, not 13".into())
        );
        assert_eq!(
            check("12345678901A"),
            Err("is not a FedEx tracking number: it should be digits only".into())
        );
    }

    #[test]
    fn dhl_express_uses_the_mod_7_check_digit() {
        let check = |n: &str| validate_tracking_number(CarrierKind::DhlExpress, n);
        // 123456789 mod 7 = 1.
        assert_eq!(check("1234567891").as_deref(), Ok("1234567891"));
        assert_eq!(
            check("1234567890"),
            Err("is not a DHL Express tracking number: the check digit should be 1".into())
        );
        assert_eq!(
            check("123456789"),
            Err("is not a DHL Express tracking number: it should be 10 digits, not 9".into())
        );
        assert_eq!(
            check("12345678AB"),
            Err("is not a DHL Express tracking number: it should be digits only".into())
        );
        // The check is mod 7, so 7, 8 and 9 are never check digits.
        for last in [b'7', b'8', b'9'] {
            for seed in 0..50 {
                let number = generate_tracking_number(CarrierKind::DhlExpress, seed);
                assert!(check(&replaced(&number, 9, last)).is_err());
            }
        }
    }

    #[test]
    fn dhl_express_misses_only_changes_of_seven() {
        let number = "3318810025";
        assert!(validate_tracking_number(CarrierKind::DhlExpress, number).is_ok());
        for at in 0..9 {
            let original = number.as_bytes()[at];
            for c in (b'0'..=b'9').filter(|&c| c != original) {
                let passes =
                    validate_tracking_number(CarrierKind::DhlExpress, &replaced(number, at, c))
                        .is_ok();
                // 10^k is never a multiple of 7, so only a change by 7 goes unseen.
                assert_eq!(passes, original.abs_diff(c) == 7, "{at}: {c}");
            }
        }
    }

    #[test]
    fn generated_numbers_validate_and_keep_their_shape() {
        let seeds = (0..2_000).chain([
            999_999_999,
            1_000_000_000,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ]);
        for seed in seeds {
            for &carrier in CarrierKind::ALL {
                let number = generate_tracking_number(carrier, seed);
                assert_eq!(
                    validate_tracking_number(carrier, &number).as_deref(),
                    Ok(number.as_str()),
                    "{carrier} seed {seed}"
                );
                match carrier {
                    CarrierKind::Ups => {
                        assert!(number.starts_with("1ZSS"));
                        assert_eq!(&number[8..10], "01");
                    }
                    CarrierKind::Usps => {
                        assert!(number.starts_with("9400"));
                        assert_eq!(number.len(), 22);
                    }
                    CarrierKind::Fedex => assert_eq!(number.len(), 12),
                    CarrierKind::DhlExpress => assert_eq!(number.len(), 10),
                }
            }
        }
    }

    #[test]
    fn generated_numbers_are_deterministic_and_distinct() {
        for &carrier in CarrierKind::ALL {
            let numbers: HashSet<String> = (0..10_000)
                .map(|seed| generate_tracking_number(carrier, seed))
                .collect();
            assert_eq!(numbers.len(), 10_000, "{carrier}");
            assert_eq!(
                generate_tracking_number(carrier, 42),
                generate_tracking_number(carrier, 42)
            );
        }
        // Seeds below 10^9 never collide (the map is a bijection there); past the smallest
        // range they wrap.
        assert_ne!(
            generate_tracking_number(CarrierKind::DhlExpress, 999_999_999),
            generate_tracking_number(CarrierKind::DhlExpress, 0)
        );
        assert_eq!(
            generate_tracking_number(CarrierKind::DhlExpress, 1_000_000_000),
            generate_tracking_number(CarrierKind::DhlExpress, 0)
        );
    }

    #[test]
    fn tracking_urls_point_at_each_carriers_page() {
        assert_eq!(
            tracking_url(CarrierKind::Ups, UPS_SAMPLE),
            "https://www.ups.com/track?tracknum=1Z999AA10123456784"
        );
        assert_eq!(
            tracking_url(CarrierKind::Fedex, "123456789012"),
            "https://www.fedex.com/fedextrack/?trknbr=123456789012"
        );
        assert_eq!(
            tracking_url(CarrierKind::Usps, "9400111899223100000006"),
            "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223100000006"
        );
        assert_eq!(
            tracking_url(CarrierKind::DhlExpress, "1234567891"),
            "https://www.dhl.com/en/express/tracking.html?AWB=1234567891"
        );
        // Anything else is percent-encoded, so it cannot add parameters.
        assert_eq!(
            tracking_url(CarrierKind::Ups, "1Z 9&x=é"),
            "https://www.ups.com/track?tracknum=1Z%209%26x%3D%C3%A9"
        );
    }

    #[test]
    fn every_carrier_maps_its_codes_onto_every_canonical_status() {
        for (kind, codes) in CARRIER_CODES {
            for status in TrackingStatus::ALL {
                assert!(
                    codes.iter().any(|(_, s)| s == status),
                    "{kind:?} has no code for {status:?}"
                );
            }
            for (code, status) in *codes {
                assert_eq!(canonical_status(Some(*kind), code), Some(*status));
            }
        }
        assert_eq!(
            canonical_status(Some(CarrierKind::Ups), "d"),
            Some(TrackingStatus::Delivered)
        );
        assert_eq!(
            canonical_status(Some(CarrierKind::Ups), "ZZ"),
            None,
            "no catch-all"
        );
        assert_eq!(
            canonical_status(None, "out_for_delivery"),
            Some(TrackingStatus::OutForDelivery)
        );
        assert_eq!(canonical_status(None, "D"), None);
    }
}
