//! Conversions between protobuf messages and domain types.

use prost_types::value::Kind;
use uuid::Uuid;

use super::pb;
use crate::domain::{Money, ProductDetail, ProductSort, ProductStatus, Variant, VariantOption};
use crate::services::Error;
use crate::services::catalog::{CreateVariantInput, ImageInput};

/// Maps a domain enum to its protobuf twin and back, value by value: `$out` gives the wire
/// number, `$in` (when named) reads one: `None` for the zero `..._UNSPECIFIED`, an error
/// naming `field` for a number the enum does not know.
macro_rules! proto_enum {
    ($out:ident: $domain:ty => $pb:ty, $what:literal { $($d:ident <=> $p:ident),+ $(,)? }) => {
        pub fn $out(value: $domain) -> i32 {
            type D = $domain;
            type P = $pb;
            match value {
                $(D::$d => P::$p as i32,)+
            }
        }
    };
    ($out:ident, $in:ident: $domain:ty => $pb:ty, $what:literal { $($d:ident <=> $p:ident),+ $(,)? }) => {
        $crate::adapters::grpc::convert::proto_enum!($out: $domain => $pb, $what { $($d <=> $p),+ });

        pub fn $in(raw: i32, field: &str) -> Result<Option<$domain>, $crate::services::Error> {
            type D = $domain;
            type P = $pb;
            match P::try_from(raw) {
                Ok(P::Unspecified) => Ok(None),
                $(Ok(P::$p) => Ok(Some(D::$d)),)+
                Err(_) => Err($crate::services::Error::invalid(
                    field,
                    concat!("is not a known ", $what),
                )),
            }
        }
    };
}

pub(super) use proto_enum;

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn money(m: Money) -> pb::Money {
    pb::Money {
        amount: m.amount.to_string(),
        currency: m.currency,
    }
}

/// Parses money from a request; `field` names it in errors.
pub fn money_in(m: Option<pb::Money>, field: &str) -> Result<Money, Error> {
    let m = m.ok_or_else(|| Error::invalid(field, "is required"))?;
    let amount = m.amount.trim().parse().map_err(|_| {
        Error::invalid(
            format!("{field}.amount"),
            "must be a decimal number such as 19.99",
        )
    })?;
    Ok(Money {
        amount,
        currency: m.currency,
    })
}

pub fn uuid(raw: &str, field: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw.trim()).map_err(|_| Error::invalid(field, "must be a UUID"))
}

proto_enum!(product_status, product_status_in: ProductStatus => pb::ProductStatus, "product status" {
    Draft <=> Draft,
    Active <=> Active,
    Archived <=> Archived,
});

pub fn sort_in(raw: i32) -> Result<ProductSort, Error> {
    match pb::ProductSort::try_from(raw) {
        Ok(pb::ProductSort::Unspecified | pb::ProductSort::CreatedAtDesc) => {
            Ok(ProductSort::CreatedAtDesc)
        }
        Ok(pb::ProductSort::CreatedAtAsc) => Ok(ProductSort::CreatedAtAsc),
        Ok(pb::ProductSort::UpdatedAtDesc) => Ok(ProductSort::UpdatedAtDesc),
        Ok(pb::ProductSort::NameAsc) => Ok(ProductSort::NameAsc),
        Ok(pb::ProductSort::NameDesc) => Ok(ProductSort::NameDesc),
        Err(_) => Err(Error::invalid("sort", "is not a known sort order")),
    }
}

fn option(o: VariantOption) -> pb::VariantOption {
    pb::VariantOption {
        name: o.name,
        value: o.value,
    }
}

pub fn variant(v: Variant) -> pb::Variant {
    pb::Variant {
        id: v.id.to_string(),
        product_id: v.product_id.to_string(),
        sku: v.sku,
        title: v.title,
        options: v.options.into_iter().map(option).collect(),
        price: Some(money(v.price)),
        compare_at_price: v.compare_at_price.map(money),
        weight_grams: v.weight_grams,
        barcode: v.barcode,
        position: v.position,
        created_at: Some(timestamp(v.created_at)),
        updated_at: Some(timestamp(v.updated_at)),
    }
}

pub fn product(detail: ProductDetail) -> pb::Product {
    let p = detail.product;
    pb::Product {
        id: p.id.to_string(),
        name: p.name,
        slug: p.slug,
        description: p.description,
        status: product_status(p.status),
        attributes: json_to_struct(p.attributes),
        images: p
            .images
            .into_iter()
            .map(|i| pb::ProductImage {
                id: i.id.to_string(),
                url: i.url,
                alt_text: i.alt_text,
                position: i.position,
            })
            .collect(),
        categories: p
            .categories
            .into_iter()
            .map(|c| pb::CategorySummary {
                id: c.id.to_string(),
                name: c.name,
                slug: c.slug,
            })
            .collect(),
        variants: detail.variants.into_iter().map(variant).collect(),
        created_at: Some(timestamp(p.created_at)),
        updated_at: Some(timestamp(p.updated_at)),
        tax_class: p.tax_class,
    }
}

pub fn variant_in(v: pb::VariantInput, field: &str) -> Result<CreateVariantInput, Error> {
    Ok(CreateVariantInput {
        sku: v.sku,
        title: v.title,
        options: v
            .options
            .into_iter()
            .map(|o| VariantOption {
                name: o.name,
                value: o.value,
            })
            .collect(),
        price: money_in(v.price, &format!("{field}.price"))?,
        compare_at_price: v
            .compare_at_price
            .map(|m| money_in(Some(m), &format!("{field}.compare_at_price")))
            .transpose()?,
        weight_grams: v.weight_grams,
        barcode: v.barcode,
        position: v.position,
    })
}

pub fn image_in(i: pb::ImageInput) -> ImageInput {
    ImageInput {
        url: i.url,
        alt_text: i.alt_text,
        position: i.position,
    }
}

pub fn uuids(raw: &[String], field: &str) -> Result<Vec<Uuid>, Error> {
    raw.iter()
        .enumerate()
        .map(|(i, id)| uuid(id, &format!("{field}[{i}]")))
        .collect()
}

/// A JSON object → protobuf `Struct` (anything else becomes an empty struct).
pub fn json_to_struct(json: serde_json::Value) -> Option<prost_types::Struct> {
    match json_to_value(json).kind {
        Some(Kind::StructValue(s)) => Some(s),
        _ => Some(prost_types::Struct::default()),
    }
}

/// JSON → protobuf `Value`.
pub fn json_to_value(json: serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match json {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        J::String(s) => Kind::StringValue(s),
        J::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        J::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .into_iter()
                .map(|(k, v)| (k, json_to_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Protobuf `Struct` → JSON object.
pub fn struct_to_json(s: prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        s.fields
            .into_iter()
            .map(|(k, v)| (k, value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(v: prost_types::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(b),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(n).map_or(J::Null, J::Number),
        Some(Kind::StringValue(s)) => J::String(s),
        Some(Kind::ListValue(l)) => J::Array(l.values.into_iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

/// An optional decimal string ("19.99"); empty counts as absent.
pub fn decimal(raw: Option<String>, field: &str) -> Result<Option<rust_decimal::Decimal>, Error> {
    raw.filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| Error::invalid(field, "must be a decimal number such as 19.99"))
        })
        .transpose()
}

/// An optional timestamp from a request, as the service takes it; one out of range (or with
/// negative nanoseconds) is an error naming `field`.
pub fn time_in(
    t: Option<prost_types::Timestamp>,
    field: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
    let Some(t) = t else { return Ok(None) };
    u32::try_from(t.nanos)
        .ok()
        .and_then(|nanos| chrono::DateTime::from_timestamp(t.seconds, nanos))
        .map(Some)
        .ok_or_else(|| Error::invalid(field, "is not a valid timestamp"))
}

pub fn address(a: crate::domain::Address) -> pb::Address {
    pb::Address {
        first_name: a.first_name,
        last_name: a.last_name,
        company: a.company,
        line1: a.line1,
        line2: a.line2,
        city: a.city,
        region: a.region,
        postal_code: a.postal_code,
        country: a.country,
        phone: a.phone,
    }
}

pub fn address_in(a: pb::Address) -> crate::domain::Address {
    crate::domain::Address {
        first_name: a.first_name,
        last_name: a.last_name,
        company: a.company,
        line1: a.line1,
        line2: a.line2,
        city: a.city,
        region: a.region,
        postal_code: a.postal_code,
        country: a.country,
        phone: a.phone,
    }
}

/// An optional id where empty counts as unset, as proto3 sends an unset string.
pub fn optional_uuid(raw: Option<String>, field: &str) -> Result<Option<Uuid>, Error> {
    raw.filter(|id| !id.is_empty())
        .map(|id| uuid(&id, field))
        .transpose()
}

/// A page's items, mapped, its `next_page_token` (empty on the last page) and its
/// `total_count`: the three fields of every paged list response.
pub fn paged<T, U>(
    page: crate::services::page::Page<T>,
    f: impl FnMut(T) -> U,
) -> (Vec<U>, String, i64) {
    let next_page_token = page.next_cursor().unwrap_or_default();
    let items = page.items.into_iter().map(|(_, i)| i).map(f).collect();
    (items, next_page_token, page.total_count)
}

/// A page request from `page_size` (0: the default) and `page_token` (empty: the first page).
pub fn page(size: i32, token: String) -> crate::services::page::PageRequest {
    crate::services::page::PageRequest {
        size: (size != 0).then_some(i64::from(size)),
        after: Some(token).filter(|t| !t.is_empty()),
        size_field: "page_size",
        cursor_field: "page_token",
        with_total: true,
    }
}
