//! Unit counts, with one cap per meaning: what one buyer puts on one line, and what the
//! warehouse moves or counts at once. Every door and service reads quantities through these.

/// Most units on one line of a cart, a checkout (ACP included) or an order.
pub const MAX_LINE_UNITS: i32 = 10_000;
/// Most units one stock movement, reservation, count or purchase-order line may hold.
pub const MAX_STOCK_UNITS: i32 = 10_000_000;

/// Checks the units of one order line: 1 to [`MAX_LINE_UNITS`].
pub fn check_line_units(units: i32) -> Result<(), String> {
    check_range(units, 1, MAX_LINE_UNITS)
}

/// Checks units of stock moved or reserved at once: 1 to [`MAX_STOCK_UNITS`].
pub fn check_stock_units(units: i32) -> Result<(), String> {
    check_range(units, 1, MAX_STOCK_UNITS)
}

/// Checks a stock level that may be zero (a count, a reorder point): 0 to
/// [`MAX_STOCK_UNITS`].
pub fn check_stock_level(units: i32) -> Result<(), String> {
    check_range(units, 0, MAX_STOCK_UNITS)
}

fn check_range(units: i32, least: i32, most: i32) -> Result<(), String> {
    if (least..=most).contains(&units) {
        Ok(())
    } else {
        Err(format!("must be between {least} and {most}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_meaning_has_its_own_cap() {
        assert!(check_line_units(MAX_LINE_UNITS).is_ok());
        assert_eq!(
            check_line_units(MAX_LINE_UNITS + 1),
            Err("must be between 1 and 10000".to_owned())
        );
        assert!(check_line_units(0).is_err());
        assert!(check_stock_units(MAX_LINE_UNITS + 1).is_ok());
        assert!(check_stock_units(0).is_err());
        assert!(check_stock_level(0).is_ok());
        assert!(check_stock_level(MAX_STOCK_UNITS + 1).is_err());
    }
}
