//! Enums kept in the database as text.
//!
//! [`stored_enum!`](crate::stored_enum) declares one with each variant's stored spelling, once.
//! Row types hold the enum itself and load it with `#[diesel(deserialize_as = String)]`
//! (through the generated `TryFrom<String>`), so services compare typed values and a column
//! holding a value the code does not know is an error when the row is read, not a silent
//! default.

/// A stored value that names no variant of the enum it was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub type_name: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a {}", self.value, self.type_name)
    }
}

impl std::error::Error for UnknownValue {}

/// Declares an enum stored as text: `Variant = "spelling",` for each variant. Generates
/// `ALL`, `as_str`, `parse`, `Display`, `TryFrom<String>` (for loading rows) and
/// `From<Self> for String` (for writing them). Attributes (derives, serde renames, docs) pass
/// through; keep serde's spelling equal to the stored one (a unit test per enum checks it).
#[macro_export]
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored (and wire) spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The variant spelled exactly `value`.
            pub fn parse(value: &str) -> Option<Self> {
                match value {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::stored::UnknownValue;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value).ok_or($crate::stored::UnknownValue {
                    type_name: stringify!($name),
                    value,
                })
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.as_str().to_owned()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::*;

    /// Each enum's serde spelling (what the doors show) is its stored spelling.
    fn same_spelling<T: serde::Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for &value in all {
            assert!(
                matches!(serde_json::to_value(value), Ok(serde_json::Value::String(s)) if s == as_str(value)),
                "{} is spelled differently in serde",
                as_str(value)
            );
        }
    }

    #[test]
    fn serde_and_storage_spell_every_variant_alike() {
        same_spelling(CartStatus::ALL, CartStatus::as_str);
        same_spelling(CheckoutStatus::ALL, CheckoutStatus::as_str);
        same_spelling(PaymentStatus::ALL, PaymentStatus::as_str);
        same_spelling(Stablecoin::ALL, Stablecoin::as_str);
        same_spelling(StablecoinState::ALL, StablecoinState::as_str);
        same_spelling(OrderStatus::ALL, OrderStatus::as_str);
        same_spelling(OrderAction::ALL, OrderAction::as_str);
        same_spelling(ProductStatus::ALL, ProductStatus::as_str);
        same_spelling(InvoiceStatus::ALL, InvoiceStatus::as_str);
        same_spelling(DeliveryStatus::ALL, DeliveryStatus::as_str);
        same_spelling(LocationKind::ALL, LocationKind::as_str);
        same_spelling(FulfillmentOrderStatus::ALL, FulfillmentOrderStatus::as_str);
        same_spelling(HoldReason::ALL, HoldReason::as_str);
        same_spelling(ShipmentStatus::ALL, ShipmentStatus::as_str);
        same_spelling(ShipmentAction::ALL, ShipmentAction::as_str);
        same_spelling(SignatureRequirement::ALL, SignatureRequirement::as_str);
        same_spelling(CarrierAdapter::ALL, CarrierAdapter::as_str);
        same_spelling(LabelStatus::ALL, LabelStatus::as_str);
        same_spelling(RateChoice::ALL, RateChoice::as_str);
    }

    #[test]
    fn an_unknown_stored_value_is_an_error_naming_the_type() {
        let err = OrderStatus::try_from("shipped-ish".to_owned()).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("`shipped-ish` is not a OrderStatus")
        );
        assert_eq!(
            OrderStatus::try_from("on_hold".to_owned()),
            Ok(OrderStatus::OnHold)
        );
    }
}
