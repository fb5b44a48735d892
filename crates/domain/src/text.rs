//! Checks and normalisation for short identifiers: slugs, SKUs and email addresses.

/// Longest accepted slug.
pub const MAX_SLUG_LEN: usize = 120;
/// Longest accepted SKU.
pub const MAX_SKU_LEN: usize = 64;

/// Turns a display name into a URL slug: `"Classic Tee (Black)"` → `"classic-tee-black"`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    slug.chars()
        .take(MAX_SLUG_LEN)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// Checks a slug given by a caller: lower-case letters and digits in hyphen-separated words.
pub fn check_slug(slug: &str) -> Result<(), String> {
    let well_formed = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_SLUG_LEN} lower-case letters or digits in words joined by single hyphens"
        ))
    }
}

/// The read side of a text value made only by its own `parse`: `as_str`, `into_string` and
/// `Display`.
macro_rules! parsed_text {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use parsed_text;

/// A stock-keeping unit as we keep it: trimmed, 1 to 64 letters, digits, `-`, `_` or `.`.
/// Every door and service reads a SKU through [`Sku::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let sku = raw.trim();
        let well_formed = !sku.is_empty()
            && sku.len() <= MAX_SKU_LEN
            && sku
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if well_formed {
            Ok(Self(sku.to_owned()))
        } else {
            Err(format!(
                "must be 1 to {MAX_SKU_LEN} letters, digits, `-`, `_` or `.`"
            ))
        }
    }
}

parsed_text!(Sku);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_collapses_punctuation() {
        assert_eq!(slugify("Classic Tee (Black)"), "classic-tee-black");
        assert_eq!(slugify("  Über  Mug!! "), "ber-mug");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn slugs_and_skus_are_checked() {
        assert!(check_slug("classic-tee").is_ok());
        assert!(check_slug("Classic").is_err());
        assert!(check_slug("a--b").is_err());
        assert_eq!(
            Sku::parse(" TEE-BLK_M.1 ").map(Sku::into_string),
            Ok("TEE-BLK_M.1".to_owned())
        );
        assert!(Sku::parse("TEE BLK").is_err());
        assert!(Sku::parse("").is_err());
    }
}

/// An email address as we keep it: trimmed, lower-cased, `local@domain.tld`, at most 254
/// bytes. Every door and service reads emails through [`Email::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// What a malformed address is told.
    pub const EXPECTED: &'static str = "must be an email address such as ada@example.com";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        let well_formed = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if well_formed {
            Ok(Self(email))
        } else {
            Err(Self::EXPECTED)
        }
    }
}

parsed_text!(Email);
