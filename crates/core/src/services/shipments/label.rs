//! The shipping label: a pure function from a package's facts to the bytes of a 4×6 inch PDF,
//! and [`read_barcode`], which gets the tracking number back out of such a PDF.
//!
//! Like the invoice (`services::invoices::pdf`), text is set in the standard Helvetica fonts
//! with WinAnsi encoding and the content stream is left uncompressed, so the text can be
//! found in the bytes. Everything is left-aligned, so no font metrics are needed.
//!
//! The tracking number is drawn as a Code 128 symbol: one filled rectangle (`re` + `f`) per
//! bar, every x and width a whole number of modules from the symbol's left edge, on a grid of
//! 1/16 pt so the numbers are exact in the file. The module widths live in the drawing and
//! nowhere else, so reading them back (what the tests do) checks what a scanner would see.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

use stateset_domain::{Address, code128};

const PAGE_WIDTH: f32 = 288.0;
const PAGE_HEIGHT: f32 = 432.0;
const MARGIN: f32 = 12.0;
const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

/// Blank modules each side of the symbol, which scanners need to find its ends.
const QUIET_MODULES: f32 = 10.0;
/// The widest module used: about 1/64 inch, within what carriers ask for and what a 203 dpi
/// thermal printer resolves.
const MAX_MODULE: f32 = 1.125;
/// Below this the bars are too thin to print or scan; longer numbers are refused.
const MIN_MODULE: f32 = 0.5;
/// Bar positions and widths are multiples of this, so they are exact in an `f32` and in the
/// file.
const GRID: f32 = 1.0 / 16.0;
const BAR_HEIGHT: f32 = 72.0;
const BAR_BOTTOM: f32 = 36.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// What a label shows, borrowed from the shipment it is for.
pub struct LabelContent<'a> {
    /// The sender, printed small at the top.
    pub from: &'a Address,
    /// The recipient, printed large under "SHIP TO".
    pub to: &'a Address,
    /// The carrier as printed, e.g. `UPS`.
    pub carrier_name: &'a str,
    /// The service level as printed, e.g. `Ground`.
    pub service: &'a str,
    /// The package's weight; above zero.
    pub weight_grams: i32,
    /// `none`, `signature` or `adult_signature` (the stored spellings of the shipment's
    /// signature requirement); the latter two print "SIGNATURE REQUIRED" or
    /// "ADULT SIGNATURE REQUIRED".
    pub signature: &'a str,
    /// Printed as a Code 128 barcode with the number under it; printable ASCII.
    pub tracking_number: &'a str,
    /// The shipment's number, e.g. `SHP-000001`.
    pub reference: &'a str,
    /// This package's position and the shipment's package count: `(1, 3)` prints
    /// "Package 1 of 3".
    pub package: (usize, usize),
}

/// Renders `label` as a one-page 4×6 inch (288×432 pt) PDF.
///
/// # Errors
/// A package position outside `1..=count`, a weight not above zero, an unknown signature
/// option, or a tracking number that cannot be printed as a barcode (not printable ASCII, or
/// too long for the label's width).
pub fn render(label: &LabelContent) -> Result<Vec<u8>, String> {
    let (index, count) = label.package;
    if index == 0 || index > count {
        return Err(format!("package {index} of {count} does not exist"));
    }
    if label.weight_grams <= 0 {
        return Err("the weight must be above 0 grams".into());
    }
    let signature = match label.signature {
        "none" => None,
        "signature" => Some("SIGNATURE REQUIRED"),
        "adult_signature" => Some("ADULT SIGNATURE REQUIRED"),
        other => {
            return Err(format!(
                "`{other}` is not a signature option (none, signature or adult_signature)"
            ));
        }
    };
    let widths = code128::encode(label.tracking_number)
        .map_err(|e| format!("the tracking number cannot be printed as a barcode: {e}"))?;

    let mut page = Content::new();

    // The addresses flow down from the top. At most six lines each (plus the recipient's
    // phone) end above the middle zone's rule, so nothing can run into it.
    let mut y = PAGE_HEIGHT - MARGIN - 8.0;
    text(&mut page, MARGIN, y, 7.0, true, "FROM");
    y -= 10.0;
    for line in address_lines(label.from) {
        text(&mut page, MARGIN, y, 8.0, false, &line);
        y -= 9.0;
    }
    y -= 2.0;
    rule(&mut page, y, 1.0);
    y -= 14.0;
    text(&mut page, MARGIN, y, 9.0, true, "SHIP TO");
    y -= 17.0;
    for (i, line) in address_lines(label.to).into_iter().enumerate() {
        // The recipient's name (the first line) in bold, as carriers print it.
        text(&mut page, MARGIN + 8.0, y, 13.0, i == 0, &line);
        y -= 15.0;
    }
    if let Some(phone) = label.to.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        text(
            &mut page,
            MARGIN + 8.0,
            y,
            9.0,
            false,
            &format!("Tel: {phone}"),
        );
    }

    // The middle zone sits at fixed heights above the barcode, like a carrier's label.
    let zone_top = BAR_BOTTOM + BAR_HEIGHT + 105.0;
    rule(&mut page, zone_top, 1.5);
    let carrier = format!("{} {}", label.carrier_name, label.service);
    text(
        &mut page,
        MARGIN,
        zone_top - 18.0,
        16.0,
        true,
        carrier.trim(),
    );
    let grams = f64::from(label.weight_grams);
    let weight = format!(
        "Weight: {:.2} kg ({:.2} lb)",
        grams / 1000.0,
        grams / 453.592_37
    );
    text(&mut page, MARGIN, zone_top - 34.0, 10.0, false, &weight);
    if let Some(signature) = signature {
        text(&mut page, MARGIN, zone_top - 50.0, 12.0, true, signature);
    }
    let reference = format!("Ref: {}", label.reference);
    text(&mut page, MARGIN, zone_top - 64.0, 10.0, false, &reference);
    let package = format!("Package {index} of {count}");
    text(&mut page, MARGIN, zone_top - 77.0, 10.0, true, &package);

    rule(&mut page, BAR_BOTTOM + BAR_HEIGHT + 20.0, 1.0);
    text(
        &mut page,
        MARGIN,
        BAR_BOTTOM + BAR_HEIGHT + 7.0,
        7.0,
        true,
        "TRACKING #",
    );
    let left = barcode(&mut page, &widths)?;
    text(
        &mut page,
        left,
        BAR_BOTTOM - 14.0,
        11.0,
        true,
        label.tracking_number,
    );

    let title = format!("Shipping label {}", label.reference);
    Ok(assemble(&title, page))
}

/// Draws the symbol `widths` centred on the page, one filled rectangle per bar, and returns
/// its left edge.
fn barcode(page: &mut Content, widths: &[u8]) -> Result<f32, String> {
    let modules: u32 = widths.iter().map(|&w| u32::from(w)).sum();
    let fit = (PAGE_WIDTH - 2.0 * MARGIN) / (modules as f32 + 2.0 * QUIET_MODULES);
    let module = (fit.min(MAX_MODULE) / GRID).floor() * GRID;
    if module < MIN_MODULE {
        return Err(format!(
            "the tracking number's barcode ({modules} modules) is too long for a 4-inch label"
        ));
    }
    let width = modules as f32 * module;
    let left = (((PAGE_WIDTH - width) / 2.0) / GRID).floor() * GRID;
    page.set_fill_gray(0.0);
    let mut at = 0u32;
    for (i, &w) in widths.iter().enumerate() {
        // Even elements are bars, odd ones the spaces between them.
        if i % 2 == 0 {
            page.rect(
                left + at as f32 * module,
                BAR_BOTTOM,
                f32::from(w) * module,
                BAR_HEIGHT,
            )
            .fill_nonzero();
        }
        at += u32::from(w);
    }
    Ok(left)
}

/// Text with its left edge at `x` on the baseline `y`, made smaller (down to 6 pt) and then
/// cut when it would run past the right margin. Without font metrics the width is estimated
/// at 0.6 em a character, which Helvetica rarely exceeds on average.
fn text(page: &mut Content, x: f32, y: f32, size: f32, bold: bool, line: &str) {
    const EM_PER_CHAR: f32 = 0.6;
    const SMALLEST: f32 = 6.0;
    let room = TEXT_WIDTH - (x - MARGIN);
    let chars = line.chars().count().max(1) as f32;
    let size = size.min(room / (chars * EM_PER_CHAR)).max(SMALLEST);
    let fits = (room / (size * EM_PER_CHAR)).floor() as usize;
    let shown: String = if line.chars().count() > fits {
        let kept: String = line.chars().take(fits.saturating_sub(3)).collect();
        format!("{kept}...")
    } else {
        line.to_owned()
    };
    let bytes = latin1(&shown);
    page.begin_text()
        .set_font(if bold { BOLD } else { REGULAR }, size)
        .next_line(x, y)
        .show(Str(&bytes))
        .end_text();
}

/// A horizontal line across the label; stroked, not filled, so it is never taken for a bar.
fn rule(page: &mut Content, y: f32, width: f32) {
    page.set_line_width(width)
        .move_to(MARGIN, y)
        .line_to(PAGE_WIDTH - MARGIN, y)
        .stroke();
}

/// `text` in the fonts' WinAnsi encoding, for the Latin-1 characters it shares with Unicode
/// (all an address on a carrier's label should hold); anything else becomes `?`.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u32::from(c) {
            code @ (0x20..=0x7e | 0xa0..=0xff) => code as u8,
            _ => b'?',
        })
        .collect()
}

/// The lines of an address as a carrier prints them: person, company, street lines,
/// city/region/postal code, country.
fn address_lines(address: &Address) -> Vec<String> {
    let join = |parts: &[Option<&str>]| {
        parts
            .iter()
            .flatten()
            .map(|part| part.trim())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let lines = [
        join(&[address.first_name.as_deref(), address.last_name.as_deref()]),
        join(&[address.company.as_deref()]),
        join(&[Some(&address.line1)]),
        join(&[address.line2.as_deref()]),
        join(&[
            Some(&address.city),
            address.region.as_deref(),
            address.postal_code.as_deref(),
        ]),
        join(&[Some(&address.country)]),
    ];
    lines.into_iter().filter(|line| !line.is_empty()).collect()
}

/// Puts the page into a document: catalog, page tree, the two fonts, info, the page and its
/// content stream.
fn assemble(title: &str, content: Content) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let page_id = Ref::new(6);
    let content_id = Ref::new(7);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(title))
        .creator(TextStr("StateSet"));
    let mut page = pdf.page(page_id);
    page.parent(tree)
        .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
        .contents(content_id);
    page.resources()
        .fonts()
        .pair(REGULAR, regular)
        .pair(BOLD, bold);
    drop(page);
    pdf.stream(content_id, &content.finish());
    pdf.finish()
}

/// Reads the Code 128 barcode out of a label PDF's drawing, as a scanner would: the reader
/// the label tests and the integration tests (on the PDF served over HTTP) use.
///
/// It takes every uncompressed content stream, collects the rectangles (`x y w h re`) that a
/// fill paints, keeps the largest set sharing one baseline and height (the bars), sorts them
/// by x, and turns bar widths and the gaps between bars into module counts, the module being
/// the narrowest bar (every start code has a one-module bar). It does not follow `cm`
/// transformations or read compressed streams; [`render`] uses neither.
///
/// # Errors
/// No bars, bars or gaps that are not whole modules, or widths [`code128::decode`] refuses.
pub fn read_barcode(pdf: &[u8]) -> Result<String, String> {
    let mut rects = Vec::new();
    for stream in content_streams(pdf) {
        rects.extend(filled_rects(stream));
    }
    // Group by (y, height): the bars share both; anything else filled is not the barcode.
    // Keyed in 1/16 pt so that values written with rounding still group together.
    let mut groups = std::collections::BTreeMap::<(i64, i64), Vec<[f32; 4]>>::new();
    for rect in rects {
        let key = (
            (rect[1] * 16.0).round() as i64,
            (rect[3] * 16.0).round() as i64,
        );
        groups.entry(key).or_default().push(rect);
    }
    let mut bars = groups
        .into_values()
        .max_by_key(Vec::len)
        .ok_or("the PDF draws no filled rectangles")?;
    bars.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let module = bars.iter().map(|r| r[2]).fold(f32::INFINITY, f32::min);
    if !module.is_finite() || module <= 0.0 {
        return Err("the bars have no width".into());
    }
    let modules = |length: f32, what: &str, x: f32| {
        let ratio = length / module;
        let count = ratio.round();
        if (ratio - count).abs() > 0.2 || !(1.0..=4.0).contains(&count) {
            Err(format!(
                "the {what} at x={x} is {ratio:.2} modules wide, not 1 to 4 whole modules"
            ))
        } else {
            Ok(count as u8)
        }
    };
    let mut widths = Vec::with_capacity(bars.len() * 2);
    for (i, bar) in bars.iter().enumerate() {
        if i > 0 {
            let previous = bars[i - 1];
            let end = previous[0] + previous[2];
            widths.push(modules(bar[0] - end, "space", end)?);
        }
        widths.push(modules(bar[2], "bar", bar[0])?);
    }
    code128::decode(&widths)
}

/// The data of each stream in `pdf` that has no `/Filter` (is not compressed).
fn content_streams(pdf: &[u8]) -> Vec<&[u8]> {
    let mut streams = Vec::new();
    let mut from = 0;
    while let Some(found) = find(&pdf[from..], b"stream") {
        let keyword = from + found;
        from = keyword + b"stream".len();
        if pdf[..keyword].ends_with(b"end") {
            continue;
        }
        let start = if pdf[from..].starts_with(b"\r\n") {
            from + 2
        } else if pdf[from..].starts_with(b"\n") {
            from + 1
        } else {
            continue;
        };
        let Some(length) = find(&pdf[start..], b"endstream") else {
            break;
        };
        let mut end = start + length;
        // The end-of-line before `endstream` is not part of the data.
        if pdf[..end].ends_with(b"\r\n") {
            end -= 2;
        } else if pdf[..end].ends_with(b"\n") || pdf[..end].ends_with(b"\r") {
            end -= 1;
        }
        // The stream's dictionary runs from its object's `obj` to the keyword.
        let dictionary_start = rfind(&pdf[..keyword], b"obj").unwrap_or(0);
        if find(&pdf[dictionary_start..keyword], b"/Filter").is_none() {
            streams.push(&pdf[start..end.max(start)]);
        }
        from = start + length + b"endstream".len();
    }
    streams
}

/// The rectangles `[x, y, width, height]` (normalized to positive sizes) of every path that
/// a fill operator paints in `content`.
fn filled_rects(content: &[u8]) -> Vec<[f32; 4]> {
    let mut operands: Vec<f32> = Vec::new();
    let mut path: Vec<[f32; 4]> = Vec::new();
    let mut filled = Vec::new();
    let mut i = 0;
    while i < content.len() {
        let byte = content[i];
        match byte {
            b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0' => i += 1,
            b'%' => {
                while i < content.len() && content[i] != b'\n' && content[i] != b'\r' {
                    i += 1;
                }
            }
            // A literal string: balanced parentheses, backslash escapes.
            b'(' => {
                let mut depth = 0;
                while i < content.len() {
                    match content[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                operands.clear();
            }
            // A hex string, or a dictionary's brackets.
            b'<' | b'>' | b'[' | b']' | b'{' | b'}' => {
                if byte == b'<' && content.get(i + 1) != Some(&b'<') {
                    while i < content.len() && content[i] != b'>' {
                        i += 1;
                    }
                }
                i += 1;
            }
            _ => {
                let start = i;
                i += 1;
                while i < content.len()
                    && !matches!(
                        content[i],
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b'\x0c'
                            | b'\0'
                            | b'('
                            | b')'
                            | b'<'
                            | b'>'
                            | b'['
                            | b']'
                            | b'{'
                            | b'}'
                            | b'/'
                            | b'%'
                    )
                {
                    i += 1;
                }
                let token = &content[start..i];
                if let Some(number) = std::str::from_utf8(token)
                    .ok()
                    .and_then(|t| t.parse::<f32>().ok())
                {
                    operands.push(number);
                    continue;
                }
                match token {
                    b"re" => {
                        if let [x, y, w, h] = operands[operands.len().saturating_sub(4)..] {
                            path.push([x.min(x + w), y.min(y + h), w.abs(), h.abs()]);
                        }
                    }
                    b"m" | b"l" | b"c" | b"v" | b"y" | b"h" => {}
                    b"f" | b"F" | b"f*" | b"B" | b"B*" | b"b" | b"b*" => {
                        filled.append(&mut path);
                    }
                    b"S" | b"s" | b"n" => path.clear(),
                    _ => {}
                }
                operands.clear();
            }
        }
    }
    filled
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateset_domain::tracking::{CarrierKind, generate_tracking_number};

    const UPS_SAMPLE: &str = "1Z999AA10123456784";

    fn from() -> Address {
        Address {
            first_name: None,
            last_name: None,
            company: Some("StateSet Warehouse (East)".into()),
            line1: "100 Dock Road".into(),
            line2: Some("Bay 4".into()),
            city: "Newark".into(),
            region: Some("NJ".into()),
            postal_code: Some("07102".into()),
            country: "US".into(),
            phone: None,
        }
    }

    fn to() -> Address {
        Address {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            company: None,
            line1: "12 Analytical Way".into(),
            line2: None,
            city: "Springfield".into(),
            region: Some("IL".into()),
            postal_code: Some("62701".into()),
            country: "US".into(),
            phone: Some("+1 217 555 0100".into()),
        }
    }

    fn content<'a>(from: &'a Address, to: &'a Address, number: &'a str) -> LabelContent<'a> {
        LabelContent {
            from,
            to,
            carrier_name: "UPS",
            service: "Ground",
            weight_grams: 1250,
            signature: "signature",
            tracking_number: number,
            reference: "SHP-000001",
            package: (1, 3),
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        find(haystack, needle).is_some()
    }

    #[test]
    fn a_label_prints_its_facts_and_its_barcode_reads_back() {
        let (from, to) = (from(), to());
        let pdf = render(&content(&from, &to, UPS_SAMPLE));
        let pdf = pdf.unwrap_or_default();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(contains(&pdf, b"/MediaBox [0 0 288 432]"));
        for text in [
            &b"(FROM)"[..],
            b"(StateSet Warehouse (East))",
            b"(100 Dock Road)",
            b"(Bay 4)",
            b"(Newark NJ 07102)",
            b"(SHIP TO)",
            b"(Ada Lovelace)",
            b"(12 Analytical Way)",
            b"(Springfield IL 62701)",
            b"(US)",
            b"(Tel: +1 217 555 0100)",
            b"(UPS Ground)",
            b"(Weight: 1.25 kg (2.76 lb))",
            b"(SIGNATURE REQUIRED)",
            b"(Ref: SHP-000001)",
            b"(Package 1 of 3)",
            b"(1Z999AA10123456784)",
            b"/Helvetica-Bold",
            b"/WinAnsiEncoding",
        ] {
            assert!(
                contains(&pdf, text),
                "missing {}",
                String::from_utf8_lossy(text)
            );
        }
        assert_eq!(read_barcode(&pdf).as_deref(), Ok(UPS_SAMPLE));
    }

    #[test]
    fn every_carriers_generated_numbers_read_back() {
        let (from, to) = (from(), to());
        for &carrier in CarrierKind::ALL {
            for seed in [0, 1, 77, 4_096, 999_999_999, u64::MAX] {
                let number = generate_tracking_number(carrier, seed);
                let pdf = render(&content(&from, &to, &number)).unwrap_or_default();
                assert_eq!(read_barcode(&pdf).as_deref(), Ok(number.as_str()));
            }
        }
    }

    #[test]
    fn bars_sit_on_the_module_grid_inside_the_quiet_zones() {
        let (from, to) = (from(), to());
        let pdf = render(&content(&from, &to, UPS_SAMPLE)).unwrap_or_default();
        let streams = content_streams(&pdf);
        assert_eq!(streams.len(), 1);
        let mut bars = filled_rects(streams[0]);
        bars.sort_by(|a, b| a[0].total_cmp(&b[0]));
        let widths = code128::encode(UPS_SAMPLE).unwrap_or_default();
        // One rectangle per bar: bars are the even elements.
        assert_eq!(bars.len(), widths.len().div_ceil(2));
        let module = bars.iter().map(|r| r[2]).fold(f32::INFINITY, f32::min);
        assert_eq!(module, MAX_MODULE);
        let left = bars[0][0];
        let modules: f32 = widths.iter().map(|&w| f32::from(w)).sum();
        let right = left + modules * module;
        assert!(left - QUIET_MODULES * module >= MARGIN);
        assert!(right + QUIET_MODULES * module <= PAGE_WIDTH - MARGIN);
        for bar in &bars {
            // Exact: everything is a multiple of 1/16 pt.
            assert_eq!(((bar[0] - left) / module).fract(), 0.0);
            assert_eq!((bar[2] / module).fract(), 0.0);
            assert_eq!((bar[1], bar[3]), (BAR_BOTTOM, BAR_HEIGHT));
        }
    }

    #[test]
    fn long_numbers_get_thinner_bars_until_they_no_longer_fit() {
        let (from, to) = (from(), to());
        let long = "SS-LONG-REFERENCE-0123456789-ABCDEFGH";
        let pdf = render(&content(&from, &to, long)).unwrap_or_default();
        assert_eq!(read_barcode(&pdf).as_deref(), Ok(long));
        let streams = content_streams(&pdf);
        let module = filled_rects(streams[0])
            .iter()
            .map(|r| r[2])
            .fold(f32::INFINITY, f32::min);
        assert!((MIN_MODULE..MAX_MODULE).contains(&module), "{module}");

        let too_long = "X".repeat(60);
        assert!(
            render(&content(&from, &to, &too_long))
                .is_err_and(|e| e.contains("too long for a 4-inch label"))
        );
    }

    #[test]
    fn signature_lines_follow_the_requirement() {
        let (from, to) = (from(), to());
        let with = |signature: &'static str| {
            let mut label = content(&from, &to, UPS_SAMPLE);
            label.signature = signature;
            render(&label)
        };
        let none = with("none").unwrap_or_default();
        assert!(!contains(&none, b"SIGNATURE REQUIRED"));
        assert!(contains(&none, b"(Package 1 of 3)"));
        let adult = with("adult_signature").unwrap_or_default();
        assert!(contains(&adult, b"(ADULT SIGNATURE REQUIRED)"));
        assert_eq!(
            with("maybe"),
            Err("`maybe` is not a signature option (none, signature or adult_signature)".into())
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let (from, to) = (from(), to());
        let mut label = content(&from, &to, UPS_SAMPLE);
        label.package = (0, 3);
        assert_eq!(render(&label), Err("package 0 of 3 does not exist".into()));
        label.package = (4, 3);
        assert!(render(&label).is_err());
        label.package = (3, 3);
        assert!(render(&label).is_ok());
        label.weight_grams = 0;
        assert_eq!(
            render(&label),
            Err("the weight must be above 0 grams".into())
        );
        label.weight_grams = 500;
        label.tracking_number = "1Z€";
        assert!(
            render(&label).is_err_and(|e| e.starts_with("the tracking number cannot be printed"))
        );
    }

    #[test]
    fn latin1_text_is_encoded_and_long_lines_are_cut() {
        let from = from();
        let mut to = to();
        to.first_name = Some("Zoë".into());
        to.line1 =
            "A very long street name that no label could ever hold on a single line, 1234".into();
        let pdf = render(&content(&from, &to, UPS_SAMPLE)).unwrap_or_default();
        // "Zoë" in WinAnsi: 5a 6f eb, written as a hex string.
        assert!(contains(&pdf, b"5a6feb") || contains(&pdf, b"5A6FEB"));
        assert!(contains(&pdf, b"...)"));
        assert_eq!(latin1("a€é"), vec![b'a', b'?', 0xe9]);
        assert_eq!(read_barcode(&pdf).as_deref(), Ok(UPS_SAMPLE));
    }

    #[test]
    fn the_reader_ignores_what_is_not_a_filled_bar() {
        // Strings holding operator-like text, stroked rectangles, and a filled box elsewhere
        // do not confuse the reader; only the largest row of same-height bars counts.
        let widths = code128::encode("ABC123").unwrap_or_default();
        let mut page = Content::new();
        page.rect(10.0, 10.0, 50.0, 20.0).stroke();
        page.rect(200.0, 300.0, 30.0, 30.0).fill_nonzero();
        page.begin_text()
            .set_font(REGULAR, 9.0)
            .next_line(10.0, 400.0)
            .show(Str(b"1 2 3 4 re f (nested) \\) re"))
            .end_text();
        let mut x = 20.0;
        for (i, &w) in widths.iter().enumerate() {
            if i % 2 == 0 {
                page.rect(x, 100.0, f32::from(w), 50.0).fill_nonzero();
            }
            x += f32::from(w);
        }
        let pdf = assemble("test", page);
        assert_eq!(read_barcode(&pdf).as_deref(), Ok("ABC123"));
        assert_eq!(
            read_barcode(&assemble("empty", Content::new())),
            Err("the PDF draws no filled rectangles".into())
        );
    }
}
