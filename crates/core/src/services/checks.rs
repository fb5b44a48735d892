//! Field checks shared by several services: free text, tags, JSON objects, addresses.

use super::error::Validator;
use stateset_domain::Address;

/// Most tags on one record, and the longest tag.
const MAX_TAGS: usize = 50;
const MAX_TAG_LEN: usize = 50;
/// Largest free-form JSON object, serialized.
const MAX_JSON_BYTES: usize = 65_536;

/// Checks free text: `min..=max` characters once trimmed, and no NUL, which PostgreSQL cannot
/// store. Every text input goes through here so none can turn into a database error.
/// A tax class name (`reduced`, `food`, ...), compared without regard to case: trimmed and
/// lowercased, 1 to 50 characters.
pub fn tax_class(v: &mut Validator, field: &str, raw: &str) -> String {
    check_text(v, field, raw, 1, 50);
    raw.trim().to_lowercase()
}

/// An amount of money that must be above zero with at most `MAX_SCALE` decimal places (as
/// stored), trailing zeros aside.
pub fn positive_amount(v: &mut Validator, field: &str, amount: rust_decimal::Decimal) {
    use stateset_domain::money::MAX_SCALE;
    if amount <= rust_decimal::Decimal::ZERO {
        v.add(field, "must be above 0");
    } else if amount.normalize().scale() > MAX_SCALE {
        v.add(
            field,
            format!("must have at most {MAX_SCALE} decimal places"),
        );
    }
}

pub fn check_text(v: &mut Validator, field: &str, text: &str, min: usize, max: usize) {
    let length = text.trim().chars().count();
    if text.contains('\0') {
        v.add(field, "must not contain NUL characters");
    } else if length < min || length > max {
        match min {
            0 => v.add(field, format!("must be at most {max} characters")),
            _ => v.add(field, format!("must be {min} to {max} characters")),
        }
    }
}

/// Optional free text, trimmed; empty becomes `None`.
pub fn optional_text(
    v: &mut Validator,
    field: &str,
    text: Option<&str>,
    max: usize,
) -> Option<String> {
    let text = text?;
    check_text(v, field, text, 0, max);
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// True when a JSON value holds a NUL character in any key or string (jsonb refuses them).
pub fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v))
        }
        _ => false,
    }
}

/// Checks a free-form JSON object (absent or `null` is `{}`).
pub fn check_json_object(
    v: &mut Validator,
    field: &str,
    value: Option<serde_json::Value>,
) -> serde_json::Value {
    match value {
        None | Some(serde_json::Value::Null) => serde_json::json!({}),
        Some(object @ serde_json::Value::Object(_)) => {
            if json_has_nul(&object) {
                v.add(field, "must not contain NUL characters");
            } else if object.to_string().len() > MAX_JSON_BYTES {
                v.add(
                    field,
                    format!("must be at most {MAX_JSON_BYTES} bytes of JSON"),
                );
            }
            object
        }
        Some(_) => {
            v.add(field, "must be a JSON object");
            serde_json::json!({})
        }
    }
}

/// Checks tags and returns them trimmed and without duplicates, in order.
pub fn check_tags(v: &mut Validator, field: &str, tags: &[String]) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        v.add(field, format!("must hold at most {MAX_TAGS} tags"));
    }
    let mut clean: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        check_text(v, &format!("{field}[{i}]"), tag, 1, MAX_TAG_LEN);
        let tag = tag.trim().to_owned();
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    clean
}

/// Checks a postal address and returns it normalised (trimmed, country upper-cased).
pub fn check_address(v: &mut Validator, field: &str, address: &Address) -> Address {
    let at = |name: &str| format!("{field}.{name}");
    let short = |v: &mut Validator, name: &str, value: &Option<String>| {
        optional_text(v, &at(name), value.as_deref(), 100)
    };
    check_text(v, &at("line1"), &address.line1, 1, 200);
    check_text(v, &at("city"), &address.city, 1, 100);
    let country = address.country.trim().to_ascii_uppercase();
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        v.add(
            at("country"),
            "must be a two-letter ISO 3166-1 country code such as US",
        );
    }
    Address {
        first_name: short(v, "first_name", &address.first_name),
        last_name: short(v, "last_name", &address.last_name),
        company: short(v, "company", &address.company),
        line1: address.line1.trim().to_owned(),
        line2: optional_text(v, &at("line2"), address.line2.as_deref(), 200),
        city: address.city.trim().to_owned(),
        region: short(v, "region", &address.region),
        postal_code: short(v, "postal_code", &address.postal_code),
        country,
        phone: short(v, "phone", &address.phone),
    }
}
