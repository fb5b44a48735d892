//! The printable invoice: a pure function from an [`Invoice`] to the bytes of an A4 PDF.
//!
//! Text is set in the standard Helvetica fonts every PDF reader has (nothing embedded, so the
//! file stays a few kilobytes) with WinAnsi encoding, and content streams are left
//! uncompressed so the text can be found in the bytes (tests and `grep` rely on that).

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

use stateset_domain::{Address, Invoice, InvoiceStatus, Money};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const LEFT: f32 = 50.0;
const RIGHT: f32 = PAGE_WIDTH - 50.0;
/// Below this a page is full.
const BOTTOM: f32 = 70.0;
const ROW: f32 = 14.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Widths of Helvetica's printable ASCII characters (32..=126) in 1/1000 em, from its AFM
/// metrics; right-aligned numbers and truncated cells need them.
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // space../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, // 0-9
    278, 278, 584, 584, 584, 556, 1015, // :..@
    667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667,
    611, 722, 667, 944, 667, 667, 611, // A-Z
    278, 278, 278, 469, 556, 333, // [..`
    556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
    278, 556, 500, 722, 500, 500, 500, // a-z
    334, 260, 334, 584, // {..~
];

/// The width of `text` at `size` points (bold is a little wider; close enough for layout).
fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| match c as u32 {
            code @ 32..=126 => u32::from(HELVETICA_WIDTHS[(code - 32) as usize]),
            _ => 556,
        })
        .sum();
    let width = units as f32 * size / 1000.0;
    if bold { width * 1.02 } else { width }
}

/// `text` in Windows-1252 (WinAnsi), the encoding the fonts are declared with; characters it
/// cannot show become `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '™' => 0x99,
            'Š' => 0x8a,
            'š' => 0x9a,
            'Œ' => 0x8c,
            'œ' => 0x9c,
            'Ž' => 0x8e,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            _ => b'?',
        })
        .collect()
}

/// `text` cut to fit `width` points, with an ellipsis when cut.
fn fit(text: &str, width: f32, size: f32) -> String {
    if text_width(text, size, false) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        let mut candidate = out.clone();
        candidate.push(c);
        candidate.push('…');
        if text_width(&candidate, size, false) > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// An amount as printed: two decimals at least, thousands not grouped (`1234.50`).
fn amount(money: &Money) -> String {
    stateset_domain::money::display_amount(money.amount).to_string()
}

fn negative(money: &Money) -> String {
    if money.amount.is_zero() {
        amount(money)
    } else {
        format!("-{}", amount(money))
    }
}

fn date(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), |at| at.format("%Y-%m-%d").to_string())
}

fn status_label(invoice: &Invoice) -> &'static str {
    match invoice.status {
        InvoiceStatus::Draft => "Draft",
        InvoiceStatus::Open if invoice.overdue => "Overdue",
        InvoiceStatus::Open => "Open",
        InvoiceStatus::Paid => "Paid",
        InvoiceStatus::Void => "Void",
    }
}

fn address_lines(address: &Address) -> Vec<String> {
    let mut lines = Vec::new();
    let person = [address.first_name.as_deref(), address.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !person.is_empty() {
        lines.push(person);
    }
    lines.extend(address.company.clone());
    lines.push(address.line1.clone());
    lines.extend(address.line2.clone());
    let city = [
        Some(address.city.as_str()),
        address.region.as_deref(),
        address.postal_code.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|part| !part.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    lines.push(city);
    lines.push(address.country.clone());
    lines
}

/// Pages being written, top to bottom.
struct Writer {
    pages: Vec<Content>,
    y: f32,
}

impl Writer {
    fn new() -> Self {
        Self {
            pages: vec![Content::new()],
            y: PAGE_HEIGHT - 60.0,
        }
    }

    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Text with its left edge at `x`, on the baseline `y`.
    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let bytes = win_ansi(text);
        self.page()
            .begin_text()
            .set_font(if bold { BOLD } else { REGULAR }, size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    /// Text with its right edge at `x`.
    fn text_right(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let width = text_width(text, size, bold);
        self.text(x - width, y, size, bold, text);
    }

    fn rule(&mut self, y: f32, width: f32) {
        self.page()
            .set_line_width(width)
            .move_to(LEFT, y)
            .line_to(RIGHT, y)
            .stroke();
    }

    /// Starts a new page when fewer than `needed` points are left on this one.
    fn ensure(&mut self, needed: f32) -> bool {
        if self.y - needed < BOTTOM {
            self.pages.push(Content::new());
            self.y = PAGE_HEIGHT - 60.0;
            true
        } else {
            false
        }
    }
}

/// Table columns: (header, right edge for right-aligned columns or left edge, right-aligned).
const DESCRIPTION_X: f32 = LEFT;
const DESCRIPTION_WIDTH: f32 = 150.0;
const SKU_X: f32 = 205.0;
const SKU_WIDTH: f32 = 85.0;
const NUMBER_COLUMNS: [(&str, f32); 5] = [
    ("Qty", 322.0),
    ("Unit price", 388.0),
    ("Discount", 446.0),
    ("Tax", 494.0),
    ("Amount", RIGHT),
];

fn table_header(w: &mut Writer) {
    let y = w.y;
    w.text(DESCRIPTION_X, y, 9.0, true, "Description");
    w.text(SKU_X, y, 9.0, true, "SKU");
    for (header, right) in NUMBER_COLUMNS {
        w.text_right(right, y, 9.0, true, header);
    }
    w.rule(y - 5.0, 0.8);
    w.y -= ROW + 4.0;
}

/// Renders `invoice` as a one- or more-page A4 PDF.
pub fn render(invoice: &Invoice) -> Vec<u8> {
    let mut w = Writer::new();

    // Title and the invoice's facts, top right.
    w.text(LEFT, w.y - 10.0, 26.0, true, "Invoice");
    let facts = [
        ("Invoice number", invoice.number.clone()),
        ("Issue date", date(invoice.issued_at)),
        ("Due date", date(invoice.due_at)),
        ("Status", status_label(invoice).to_owned()),
        ("Order", invoice.order_number.clone()),
    ];
    let mut y = w.y;
    for (label, value) in &facts {
        w.text_right(430.0, y, 9.0, false, label);
        w.text(440.0, y, 9.0, true, value);
        y -= ROW;
    }
    w.y = y - 20.0;

    // Seller and buyer.
    let top = w.y;
    w.text(LEFT, top, 9.0, true, "From");
    w.text(300.0, top, 9.0, true, "Bill to");
    let mut seller = vec![invoice.seller.name.clone()];
    seller.extend(invoice.seller.address.lines().map(str::to_owned));
    if let Some(tax_id) = &invoice.seller.tax_id {
        seller.push(format!("Tax ID: {tax_id}"));
    }
    let mut buyer = vec![invoice.buyer.name.clone(), invoice.buyer.email.clone()];
    if let Some(address) = &invoice.buyer.address {
        // The address usually starts with the buyer's own name: print it once.
        let lines = address_lines(address);
        let skip = usize::from(lines.first() == Some(&invoice.buyer.name));
        buyer.extend(lines.into_iter().skip(skip));
    }
    let mut y = top - ROW;
    for line in &seller {
        let line = fit(line, 230.0, 10.0);
        w.text(LEFT, y, 10.0, false, &line);
        y -= ROW;
    }
    let seller_bottom = y;
    let mut y = top - ROW;
    for line in &buyer {
        let line = fit(line, 245.0, 10.0);
        w.text(300.0, y, 10.0, false, &line);
        y -= ROW;
    }
    w.y = seller_bottom.min(y) - 20.0;

    w.text(
        LEFT,
        w.y,
        9.0,
        false,
        &format!("Amounts in {}", invoice.currency),
    );
    w.y -= ROW + 6.0;
    table_header(&mut w);
    for line in &invoice.lines {
        if w.ensure(ROW) {
            table_header(&mut w);
        }
        let y = w.y;
        w.text(
            DESCRIPTION_X,
            y,
            9.0,
            false,
            &fit(&line.name, DESCRIPTION_WIDTH, 9.0),
        );
        w.text(SKU_X, y, 9.0, false, &fit(&line.sku, SKU_WIDTH, 9.0));
        let cells = [
            line.quantity.to_string(),
            amount(&line.unit_price),
            negative(&line.discount),
            amount(&line.tax),
            amount(&line.total),
        ];
        for ((_, right), cell) in NUMBER_COLUMNS.iter().zip(cells) {
            w.text_right(*right, y, 9.0, false, &cell);
        }
        w.y -= ROW;
    }
    w.rule(w.y + ROW - 5.0, 0.5);
    w.y -= 8.0;

    // Totals, right-aligned under the table.
    let totals = [
        ("Subtotal", amount(&invoice.subtotal), false),
        ("Discount", negative(&invoice.discount_total), false),
        ("Shipping", amount(&invoice.shipping_total), false),
        ("Tax", amount(&invoice.tax_total), false),
        (
            "Total",
            format!("{} {}", invoice.currency, amount(&invoice.total)),
            true,
        ),
        ("Paid", negative(&invoice.amount_paid), false),
        (
            "Amount due",
            format!("{} {}", invoice.currency, amount(&invoice.amount_due)),
            true,
        ),
    ];
    w.ensure(ROW * totals.len() as f32);
    for (label, value, bold) in totals {
        let y = w.y;
        w.text_right(446.0, y, 10.0, bold, label);
        w.text_right(RIGHT, y, 10.0, bold, &value);
        w.y -= ROW + 2.0;
    }
    if invoice.status == InvoiceStatus::Open && !invoice.amount_due.amount.is_zero() {
        w.y -= 10.0;
        w.ensure(ROW);
        let due = match invoice.due_at {
            Some(due) => format!(
                "Please pay {} {} by {}, quoting {}.",
                invoice.currency,
                amount(&invoice.amount_due),
                due.format("%Y-%m-%d"),
                invoice.number
            ),
            None => format!("Please quote {} with your payment.", invoice.number),
        };
        let y = w.y;
        w.text(LEFT, y, 10.0, false, &due);
    }
    if invoice.status == InvoiceStatus::Void {
        w.y -= 10.0;
        w.ensure(ROW);
        let y = w.y;
        w.text(
            LEFT,
            y,
            12.0,
            true,
            "This invoice is void and is not payable.",
        );
    }

    assemble(invoice, w.pages)
}

/// Puts the pages into a document: catalog, page tree, the two fonts, info, then per page
/// the page and its content stream.
fn assemble(invoice: &Invoice, pages: Vec<Content>) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let count = i32::try_from(pages.len()).unwrap_or(i32::MAX);
    let page_ids: Vec<Ref> = (0..count).map(|i| Ref::new(6 + 2 * i)).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(count);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let title = format!("Invoice {}", invoice.number);
    pdf.document_info(info)
        .title(TextStr(&title))
        .author(TextStr(&invoice.seller.name))
        .creator(TextStr("StateSet"));
    for (page_id, content) in page_ids.iter().zip(pages) {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(*page_id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id);
        let mut resources = page.resources();
        resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        drop(resources);
        drop(page);
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::{Decimal, dec};
    use stateset_domain::{InvoiceBuyer, InvoiceLine, InvoiceSeller};

    /// Whether `total` is what the lines and shipping add up to (the fixture's sanity).
    fn adds_up(invoice: &Invoice) -> bool {
        let lines: Decimal = invoice.lines.iter().map(|l| l.total.amount).sum();
        lines + invoice.shipping_total.amount == invoice.total.amount
    }

    fn money(amount: Decimal) -> Money {
        Money::from_stored(amount, "EUR")
    }

    pub(super) fn fixture(lines: usize) -> Invoice {
        let now = chrono::Utc::now();
        let line = |i: usize| InvoiceLine {
            sku: format!("SKU-{i:03}"),
            name: format!("Wool beanie — size {i} (red)"),
            quantity: 2,
            unit_price: money(dec!(10)),
            discount: money(dec!(1)),
            tax: money(dec!(3.8)),
            total: money(dec!(22.8)),
        };
        let lines: Vec<InvoiceLine> = (0..lines).map(line).collect();
        let n = Decimal::from(lines.len());
        Invoice {
            id: uuid::Uuid::now_v7(),
            number: "INV-2026-000042".into(),
            order_id: uuid::Uuid::now_v7(),
            order_number: "ORD-000007".into(),
            customer_id: uuid::Uuid::now_v7(),
            status: InvoiceStatus::Open,
            currency: "EUR".into(),
            lines,
            subtotal: money(dec!(20) * n),
            discount_total: money(dec!(1) * n),
            tax_total: money(dec!(3.8) * n),
            shipping_total: money(dec!(5)),
            total: money(dec!(22.8) * n + dec!(5)),
            amount_paid: money(dec!(5)),
            amount_due: money(dec!(22.8) * n),
            seller: InvoiceSeller {
                name: "Müller & Söhne (GmbH)".into(),
                address: "Hauptstraße 1\n10115 Berlin\nDE".into(),
                tax_id: Some("DE123456789".into()),
            },
            buyer: InvoiceBuyer {
                name: "Zoë Ärger".into(),
                email: "zoe@example.com".into(),
                address: Some(Address {
                    first_name: Some("Zoë".into()),
                    last_name: Some("Ärger".into()),
                    company: None,
                    line1: "1 Rue de la Paix".into(),
                    line2: None,
                    city: "Paris".into(),
                    region: None,
                    postal_code: Some("75002".into()),
                    country: "FR".into(),
                    phone: None,
                }),
            },
            payments: vec![],
            issued_at: Some(now),
            due_at: Some(now + chrono::Duration::days(30)),
            paid_at: None,
            voided_at: None,
            overdue: false,
            reminders_sent: 0,
            last_reminded_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn renders_a_readable_invoice() {
        let invoice = fixture(3);
        assert!(adds_up(&invoice));
        let pdf = render(&invoice);
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(contains(&pdf, b"%%EOF"));
        for text in [
            &b"(Invoice)"[..],
            b"(INV-2026-000042)",
            b"(SKU-002)",
            b"(ORD-000007)",
            b"(Amount due)",
            b"(EUR 68.40)",
            b"(Tax ID: DE123456789)",
            b"/Helvetica",
            b"/WinAnsiEncoding",
        ] {
            assert!(
                contains(&pdf, text),
                "missing {}",
                String::from_utf8_lossy(text)
            );
        }
        // Latin-1 text goes out in WinAnsi: "Müller" as hex bytes 4d fc 6c 6c 65 72.
        assert!(contains(&pdf, b"4dfc6c6c6572") || contains(&pdf, b"4DFC6C6C6572"));
        assert_eq!(
            count(&pdf, b"/Type /Page") - count(&pdf, b"/Type /Pages"),
            1
        );
    }

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

    #[test]
    fn long_invoices_flow_onto_more_pages() {
        let pdf = render(&fixture(120));
        assert!(count(&pdf, b"/Type /Page") - count(&pdf, b"/Type /Pages") >= 3);
        assert!(contains(&pdf, b"(SKU-119)"));
    }

    #[test]
    fn text_is_encoded_and_cut_to_fit() {
        assert_eq!(win_ansi("a—€é?"), vec![b'a', 0x97, 0x80, 0xe9, b'?']);
        assert_eq!(win_ansi("日本"), b"??".to_vec());
        let cut = fit(&"x".repeat(200), 50.0, 9.0);
        assert!(cut.ends_with('…') && text_width(&cut, 9.0, false) <= 50.0);
    }
}
