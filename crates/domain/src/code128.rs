//! Code 128 barcodes as module widths: [`encode`] turns printable ASCII into the widths of the
//! symbol's bars and spaces (what a label draws), [`decode`] reads widths back into text (what
//! the label tests use to check the drawing).
//!
//! Widths start with a bar and alternate bar, space, bar, ... Each symbol is six elements and
//! 11 modules; the stop pattern is seven elements and 13 modules (its last bar is the
//! termination bar). Quiet zones are the drawer's business and are not included.

/// Element widths of the symbols with values 0..=105 (ISO/IEC 15417): 0..=102 are data and
/// code-switch symbols, 103, 104 and 105 are Start A, Start B and Start C.
const PATTERNS: [&str; 106] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", // 0-9
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211",
    "221132", // 10-19
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112",
    "322211", // 20-29
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311",
    "211313", // 30-39
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121",
    "211331", // 40-49
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311",
    "332111", // 50-59
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221",
    "112214", // 60-69
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112",
    "134111", // 70-79
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211",
    "212141", // 80-89
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", // 90-99
    "114131", "311141", "411131", // 100-102
    "211412", "211214", "211232", // 103-105: Start A, B, C
];

/// The stop pattern, termination bar included.
const STOP: &str = "2331112";

const START_A: u8 = 103;
const START_B: u8 = 104;
const START_C: u8 = 105;
/// In sets A and B: switch to C. In set C this value is not used for that.
const CODE_C: u8 = 99;
/// In set C: switch to B (in set A the same value also means CODE B).
const CODE_B: u8 = 100;
/// In sets B and C: switch to A.
const CODE_A: u8 = 101;
/// In sets A and B: the next symbol is read in the other of the two.
const SHIFT: u8 = 98;

/// The code sets: A holds upper case and control characters, B printable ASCII, C digit pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    A,
    B,
    C,
}

/// The Code 128 symbol for `text`, as element widths in modules: start code, data, the
/// mod 103 check symbol and the stop pattern.
///
/// Code set B carries printable ASCII (32..=126) and set C pairs of digits; the switching
/// between them is optimal (fewest symbols, found by dynamic programming over the two sets),
/// so an even run of digits costs half, and an all-digit text of even length starts in C.
/// Ties go to staying in the current set, B at the start.
///
/// # Errors
/// An empty text, or a character outside 32..=126 (named in the message).
pub fn encode(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Err("there is nothing to encode".into());
    }
    if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "{c:?} (U+{:04X}) cannot be encoded: Code 128 here takes printable ASCII only",
            u32::from(c)
        ));
    }
    let values = plan(text.as_bytes());
    let mut widths = Vec::with_capacity((values.len() + 1) * 6 + 7);
    for &value in values.iter().chain([checksum(&values)].iter()) {
        widths.extend(PATTERNS[usize::from(value)].bytes().map(|b| b - b'0'));
    }
    widths.extend(STOP.bytes().map(|b| b - b'0'));
    Ok(widths)
}

/// The symbol values for `text` (printable ASCII, not empty), start code first and check
/// symbol not yet added.
fn plan(text: &[u8]) -> Vec<u8> {
    let n = text.len();
    let pair_at = |i: usize| i + 1 < n && text[i].is_ascii_digit() && text[i + 1].is_ascii_digit();
    // cost_b[i] / cost_c[i]: the fewest symbols that carry text[i..] when already in set B / C.
    // stay_b[i] / stay_c[i]: the same, given the next symbol is a data symbol of that set.
    const NEVER: usize = usize::MAX / 4;
    let mut cost_b = vec![0; n + 1];
    let mut cost_c = vec![0; n + 1];
    let mut stay_b = vec![NEVER; n];
    let mut stay_c = vec![NEVER; n];
    for i in (0..n).rev() {
        stay_b[i] = 1 + cost_b[i + 1];
        if pair_at(i) {
            stay_c[i] = 1 + cost_c[i + 2];
        }
        cost_b[i] = stay_b[i].min(1 + stay_c[i]);
        cost_c[i] = stay_c[i].min(1 + stay_b[i]);
    }

    let (mut set, mut values) = if stay_c[0] < stay_b[0] {
        (Set::C, vec![START_C])
    } else {
        (Set::B, vec![START_B])
    };
    let mut i = 0;
    while i < n {
        match set {
            Set::C if stay_c[i] <= 1 + stay_b[i] => {
                values.push((text[i] - b'0') * 10 + (text[i + 1] - b'0'));
                i += 2;
            }
            Set::C => {
                values.push(CODE_B);
                set = Set::B;
            }
            _ if stay_b[i] <= 1 + stay_c[i] => {
                values.push(text[i] - b' ');
                i += 1;
            }
            _ => {
                values.push(CODE_C);
                set = Set::C;
            }
        }
    }
    values
}

/// The check symbol: the start value plus each following value times its position, mod 103.
/// Code switches count like any other symbol.
fn checksum(values: &[u8]) -> u8 {
    let sum = values
        .iter()
        .enumerate()
        .map(|(i, &v)| i.max(1) * usize::from(v))
        .sum::<usize>();
    (sum % 103) as u8
}

/// The text a Code 128 symbol holds, from its element widths (bar first, no quiet zones):
/// start code, data in sets A, B and C with CODE and SHIFT switches, the check symbol
/// verified, the stop pattern verified.
///
/// # Errors
/// Widths that are not a whole symbol, a pattern that is no Code 128 symbol, a wrong check
/// symbol, a missing stop, or function codes (FNC1-4), which no text here uses.
pub fn decode(widths: &[u8]) -> Result<String, String> {
    if widths.len() < 6 * 2 + 7 || !(widths.len() - 7).is_multiple_of(6) {
        return Err(format!(
            "{} widths are not a Code 128 symbol (6 per symbol and 7 for the stop)",
            widths.len()
        ));
    }
    let (symbols, stop) = widths.split_at(widths.len() - 7);
    if !same_widths(stop, STOP) {
        return Err("the symbol does not end in the stop pattern".into());
    }
    let values = symbols
        .chunks(6)
        .enumerate()
        .map(|(i, chunk)| {
            PATTERNS
                .iter()
                .position(|pattern| same_widths(chunk, pattern))
                .map(|value| value as u8)
                .ok_or_else(|| format!("symbol {} ({chunk:?}) is not a Code 128 pattern", i + 1))
        })
        .collect::<Result<Vec<u8>, String>>()?;
    let (check, values) = match values.split_last() {
        Some((check, values)) => (*check, values),
        None => return Err("the symbol is empty".into()),
    };
    let mut set = match values.first() {
        Some(&START_A) => Set::A,
        Some(&START_B) => Set::B,
        Some(&START_C) => Set::C,
        _ => return Err("the symbol does not begin with a start code".into()),
    };
    if checksum(values) != check {
        return Err(format!(
            "the check symbol is {check} but the data gives {}",
            checksum(values)
        ));
    }
    if values.len() < 2 {
        return Err("the symbol holds no data".into());
    }

    let mut text = String::new();
    let mut shifted = false;
    for &value in &values[1..] {
        if value >= START_A {
            return Err("a start code appears inside the symbol".into());
        }
        // After SHIFT one symbol is read in the other of sets A and B.
        let read_in = match (shifted, set) {
            (true, Set::A) => Set::B,
            (true, Set::B) => Set::A,
            _ => set,
        };
        shifted = false;
        match (read_in, value) {
            (Set::C, 0..=99) => text.push_str(&format!("{value:02}")),
            (Set::A | Set::B, 0..=63) => text.push(char::from(b' ' + value)),
            (Set::A, 64..=95) => text.push(char::from(value - 64)),
            (Set::B, 64..=95) => text.push(char::from(b' ' + value)),
            (Set::A | Set::B, SHIFT) => shifted = true,
            (Set::A | Set::B, CODE_C) => set = Set::C,
            (Set::A | Set::C, CODE_B) => set = Set::B,
            (Set::B | Set::C, CODE_A) => set = Set::A,
            _ => {
                return Err(format!(
                    "value {value} in code set {read_in:?} is a function code, which is not supported"
                ));
            }
        }
    }
    Ok(text)
}

/// Whether `widths` are the digits of `pattern`.
fn same_widths(widths: &[u8], pattern: &str) -> bool {
    widths.len() == pattern.len()
        && widths
            .iter()
            .zip(pattern.bytes())
            .all(|(&w, p)| w == p - b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::{CarrierKind, generate_tracking_number};

    fn widths_of(pattern: &str) -> Vec<u8> {
        pattern.bytes().map(|b| b - b'0').collect()
    }

    /// The widths for `values` (start code first), with their check symbol and the stop.
    fn symbol(values: &[u8]) -> Vec<u8> {
        let mut widths: Vec<u8> = values
            .iter()
            .chain([checksum(values)].iter())
            .flat_map(|&v| widths_of(PATTERNS[usize::from(v)]))
            .collect();
        widths.extend(widths_of(STOP));
        widths
    }

    /// The symbol values `widths` hold, check symbol included, stop left out.
    fn values_of(widths: &[u8]) -> Vec<u8> {
        widths[..widths.len() - 7]
            .chunks(6)
            .filter_map(|chunk| PATTERNS.iter().position(|p| same_widths(chunk, p)))
            .map(|v| v as u8)
            .collect()
    }

    #[test]
    fn the_table_is_well_formed() {
        for (value, pattern) in PATTERNS.iter().enumerate() {
            let widths = widths_of(pattern);
            assert_eq!(widths.len(), 6, "{value}");
            assert_eq!(
                widths.iter().map(|&w| u32::from(w)).sum::<u32>(),
                11,
                "{value}"
            );
            // Code 128's parity: the bars of every symbol cover an even number of modules.
            assert_eq!((widths[0] + widths[2] + widths[4]) % 2, 0, "{value}");
            assert!(widths.iter().all(|&w| (1..=4).contains(&w)), "{value}");
        }
        let mut unique = PATTERNS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 106);
        assert_eq!(
            widths_of(STOP).iter().map(|&w| u32::from(w)).sum::<u32>(),
            13
        );
        assert_eq!(widths_of(STOP).len(), 7);
        // Spot checks against the standard's table.
        assert_eq!(PATTERNS[0], "212222");
        assert_eq!(PATTERNS[33], "111323"); // 'A' in set B
        assert_eq!(PATTERNS[99], "113141");
        assert_eq!(PATTERNS[102], "411131");
        assert_eq!(PATTERNS[104], "211214");
    }

    #[test]
    fn checksums_match_the_published_examples() {
        // Wikipedia's PJJ123C is worked in code set A: 103 + 775 = 878, remainder 54. In set B
        // the start is 104, so the same data gives 879, remainder 55.
        let data = [48, 42, 42, 17, 18, 19, 35];
        let with = |start: u8| {
            let mut values = vec![start];
            values.extend(data);
            checksum(&values)
        };
        assert_eq!(with(START_A), 54);
        assert_eq!(with(START_B), 55);
        // barcodeisland's HI345678 (Start A, H I, CODE C, 34 56 78) has check value 67.
        assert_eq!(checksum(&[START_A, 40, 41, CODE_C, 34, 56, 78]), 67);
        // barcoderesource's set C example 345678: 105 + 380 = 485, remainder 73.
        assert_eq!(checksum(&[START_C, 34, 56, 78]), 73);
    }

    #[test]
    fn set_b_text_encodes_symbol_by_symbol() {
        let widths = encode("PJJ123C").unwrap_or_default();
        let mut expected = vec![START_B, 48, 42, 42, 17, 18, 19, 35];
        assert_eq!(widths, symbol(&expected));
        expected.push(55);
        assert_eq!(values_of(&widths), expected);
        // Every symbol is 11 modules, the stop 13.
        let modules: u32 = widths.iter().map(|&w| u32::from(w)).sum();
        assert_eq!(modules, 11 * 9 + 13);
        assert_eq!(widths[0..6], widths_of("211214"));
    }

    #[test]
    fn even_digit_runs_use_code_set_c() {
        // All digits, even length: Start C and one symbol per pair.
        assert_eq!(
            values_of(&encode("123456").unwrap_or_default()),
            [START_C, 12, 34, 56, checksum(&[START_C, 12, 34, 56])]
        );
        assert_eq!(
            values_of(&encode("00").unwrap_or_default())[..2],
            [START_C, 0]
        );
        // HI345678 switches to C for the digits, as in barcodeisland's example (here from B).
        assert_eq!(
            values_of(&encode("HI345678").unwrap_or_default()),
            [START_B, 40, 41, CODE_C, 34, 56, 78, 68]
        );
        // X00Y: switching for two digits would cost more than it saves (Wikipedia).
        assert_eq!(
            values_of(&encode("X00Y").unwrap_or_default())[..5],
            [START_B, 56, 16, 16, 57]
        );
        // An odd run of digits: one digit in B, the rest in C, four data symbols in all.
        assert_eq!(
            values_of(&encode("12345").unwrap_or_default()).len(),
            1 + 4 + 1
        );
        // A single digit or three stay in B.
        assert_eq!(
            values_of(&encode("7").unwrap_or_default())[..2],
            [START_B, 23]
        );
        assert_eq!(
            values_of(&encode("123").unwrap_or_default()).len(),
            1 + 3 + 1
        );
    }

    #[test]
    fn tracking_numbers_mix_sets_and_are_shorter_for_it() {
        let number = "1Z999AA10123456784";
        let values = values_of(&encode(number).unwrap_or_default());
        assert!(values.contains(&CODE_C));
        // All in B would be start + 18 + check; the digit runs save symbols.
        assert!(values.len() < 1 + 18 + 1, "{values:?}");
        assert_eq!(
            decode(&encode(number).unwrap_or_default()).as_deref(),
            Ok(number)
        );
        // Back to B after C when letters follow a run of digits.
        let values = values_of(&encode("1234AB").unwrap_or_default());
        assert_eq!(values[..5], [START_C, 12, 34, CODE_B, 33]);
    }

    #[test]
    fn characters_outside_printable_ascii_are_refused_by_name() {
        assert_eq!(
            encode("AB\u{7}"),
            Err(
                "'\\u{7}' (U+0007) cannot be encoded: Code 128 here takes printable ASCII only"
                    .into()
            )
        );
        assert_eq!(
            encode("Zoë"),
            Err("'ë' (U+00EB) cannot be encoded: Code 128 here takes printable ASCII only".into())
        );
        assert!(encode("tab\there").is_err());
        assert!(encode("\u{7f}").is_err());
        assert_eq!(encode(""), Err("there is nothing to encode".into()));
    }

    #[test]
    fn decoding_round_trips() {
        let printable: String = (' '..='~').collect();
        let mut texts = vec![
            "A".to_owned(),
            "0".to_owned(),
            "00".to_owned(),
            "a1b22c333d4444e55555".to_owned(),
            "SHP-000001".to_owned(),
            "  spaced  out  ".to_owned(),
            "12345678901234567890123".to_owned(),
            "9999X9999".to_owned(),
            printable,
        ];
        for seed in 0..300 {
            for &carrier in CarrierKind::ALL {
                texts.push(generate_tracking_number(carrier, seed * 7_919));
            }
        }
        // Pseudo-random mixes of digits and other characters, without a rand dependency.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..500 {
            let mut text = String::new();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let len = 1 + (state >> 58) as usize;
            for _ in 0..len {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let pick = (state >> 33) as u8;
                // Digits half the time so set C runs of every length occur.
                text.push(if pick.is_multiple_of(2) {
                    char::from(b'0' + pick % 10)
                } else {
                    char::from(b' ' + pick % 95)
                });
            }
            texts.push(text);
        }
        for text in texts {
            let widths = encode(&text).unwrap_or_default();
            assert_eq!(decode(&widths).as_deref(), Ok(text.as_str()));
            // Bars and spaces alternate from a bar to the termination bar: odd count.
            assert_eq!(widths.len() % 2, 1);
        }
    }

    #[test]
    fn decoding_reads_set_a_and_shift() {
        // Start A, 'A', SHIFT + 'a' (read in B), CODE B, 'b', CODE C, 12, CODE A, LF (A: 74).
        let widths = symbol(&[START_A, 33, SHIFT, 65, CODE_B, 66, CODE_C, 12, CODE_A, 74]);
        assert_eq!(decode(&widths).as_deref(), Ok("Aab12\n"));
    }

    #[test]
    fn decoding_refuses_damaged_symbols() {
        let good = encode("SHP-000001").unwrap_or_default();
        assert!(decode(&good).is_ok());

        // One symbol swapped for another valid pattern: the check symbol catches it.
        let mut swapped = good.clone();
        swapped[6..12].copy_from_slice(&widths_of(PATTERNS[40]));
        assert!(
            decode(&swapped).is_err_and(|e| e.starts_with("the check symbol is")),
            "{:?}",
            decode(&swapped)
        );

        // A pattern that is not in the table.
        let mut garbled = good.clone();
        garbled[6..12].copy_from_slice(&[1, 1, 1, 1, 1, 6]);
        assert_eq!(
            decode(&garbled),
            Err("symbol 2 ([1, 1, 1, 1, 1, 6]) is not a Code 128 pattern".into())
        );

        // No stop, a cut-off symbol, no start code.
        let mut no_stop = good.clone();
        let len = no_stop.len();
        no_stop[len - 7..].copy_from_slice(&[2, 3, 3, 1, 1, 1, 1]);
        assert_eq!(
            decode(&no_stop),
            Err("the symbol does not end in the stop pattern".into())
        );
        assert!(decode(&good[1..]).is_err());
        assert!(decode(&[]).is_err());
        let no_start = symbol(&[33, 34]);
        assert_eq!(
            decode(&no_start),
            Err("the symbol does not begin with a start code".into())
        );

        // Function codes are not text.
        assert!(decode(&symbol(&[START_B, 102])).is_err_and(|e| e.contains("function code")));
        // A start code mid-symbol.
        assert!(decode(&symbol(&[START_B, 33, START_C])).is_err());
        // Start and check alone hold nothing.
        assert_eq!(
            decode(&symbol(&[START_B])),
            Err("the symbol holds no data".into())
        );
    }
}
