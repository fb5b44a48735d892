//! Lint rules for `proto/`, in the manner of `buf lint` and `buf breaking`, run on the
//! descriptors the server is built with (`pb::FILE_DESCRIPTOR_SET`, source info included):
//!
//! - files: package `stateset.v1`, path `stateset/v1/<lower_snake>.proto`;
//! - names: services PascalCase ending in `Service`, rpcs, messages and enums PascalCase,
//!   fields and oneofs lower_snake_case, enum values UPPER_SNAKE_CASE prefixed with their
//!   enum's name (`OrderStatus` → `ORDER_STATUS_`), the zero value `<PREFIX>_UNSPECIFIED`;
//! - comments: every service, rpc, message, field, enum and enum value has one;
//! - numbers: no two fields of a message share a number;
//! - breaking changes: every rpc, field and enum value line of the committed
//!   `tests/it/snapshots/grpc_surface.txt` is still in the surface, unchanged (the snapshot
//!   lists top-level messages and enums only, so nested ones are not covered).
//!
//! Our files are every file of the set except imported `google.*` packages (the well-known
//! types), so a file with another package is reported, not skipped. Each rule reports every
//! offender at once. The checkers take descriptors and text, and `the_rules_catch_violations`
//! feeds them hand-made ones to show that each rule bites.
//!
//! No existing name breaks a naming rule, so there is no allow-list: new names must comply.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use prost_types::source_code_info::Location;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
};

use crate::support::grpc_surface;

/// The one package our files may declare.
const PACKAGE: &str = "stateset.v1";

// Field numbers of `source_code_info` location paths (descriptor.proto).
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
const FILE_SERVICE: i32 = 6;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
const ENUM_VALUE: i32 = 2;
const SERVICE_METHOD: i32 = 2;

// ------------------------------------------------------------------------------ the rules

/// Our files among a descriptor set: all but the imported `google.*` packages.
fn ours(files: &[FileDescriptorProto]) -> Vec<&FileDescriptorProto> {
    files
        .iter()
        .filter(|f| !f.package().starts_with("google."))
        .collect()
}

/// Files outside package `stateset.v1` or away from `stateset/v1/<lower_snake>.proto`.
fn file_problems(files: &[&FileDescriptorProto]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let name = file.name();
        if file.package() != PACKAGE {
            problems.push(format!(
                "{name}: package is `{}`; it must be `{PACKAGE}`",
                file.package()
            ));
        }
        let stem = name
            .strip_prefix("stateset/v1/")
            .and_then(|rest| rest.strip_suffix(".proto"));
        if !stem.is_some_and(is_lower_snake_case) {
            problems.push(format!(
                "{name}: the file must be proto/stateset/v1/<lower_snake_case>.proto \
                 (e.g. stateset/v1/gift_cards.proto)"
            ));
        }
    }
    problems
}

/// Every name that breaks a naming rule, by full name.
fn naming_problems(files: &[&FileDescriptorProto]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let package = file.package();
        for service in &file.service {
            let full = scoped(package, service.name());
            if !is_pascal_case(service.name()) || !service.name().ends_with("Service") {
                problems.push(format!(
                    "{full}: a service name is PascalCase ending in `Service` (like `OrderService`)"
                ));
            }
            for method in &service.method {
                if !is_pascal_case(method.name()) {
                    problems.push(format!(
                        "{full}.{}: an rpc name is PascalCase (like `GetOrder`)",
                        method.name()
                    ));
                }
            }
        }
        for message in &file.message_type {
            message_naming(&scoped(package, message.name()), message, &mut problems);
        }
        for enumeration in &file.enum_type {
            enum_naming(
                &scoped(package, enumeration.name()),
                enumeration,
                &mut problems,
            );
        }
    }
    problems
}

fn message_naming(full: &str, message: &DescriptorProto, problems: &mut Vec<String>) {
    if !is_pascal_case(message.name()) {
        problems.push(format!(
            "{full}: a message name is PascalCase (like `OrderItem`)"
        ));
    }
    for field in &message.field {
        if !is_lower_snake_case(field.name()) {
            problems.push(format!(
                "{full}.{}: a field name is lower_snake_case (like `unit_price`)",
                field.name()
            ));
        }
    }
    // proto3 `optional` fields get a synthetic oneof (`_name`) from the compiler: not ours.
    let synthetic: HashSet<i32> = message
        .field
        .iter()
        .filter(|f| f.proto3_optional())
        .map(|f| f.oneof_index())
        .collect();
    for (i, oneof) in message.oneof_decl.iter().enumerate() {
        if !synthetic.contains(&(i as i32)) && !is_lower_snake_case(oneof.name()) {
            problems.push(format!(
                "{full}.{}: a oneof name is lower_snake_case (like `lookup`)",
                oneof.name()
            ));
        }
    }
    for nested in message.nested_type.iter().filter(|n| !is_map_entry(n)) {
        message_naming(&format!("{full}.{}", nested.name()), nested, problems);
    }
    for enumeration in &message.enum_type {
        enum_naming(
            &format!("{full}.{}", enumeration.name()),
            enumeration,
            problems,
        );
    }
}

fn enum_naming(full: &str, enumeration: &EnumDescriptorProto, problems: &mut Vec<String>) {
    if !is_pascal_case(enumeration.name()) {
        problems.push(format!(
            "{full}: an enum name is PascalCase (like `OrderStatus`)"
        ));
    }
    let prefix = format!("{}_", upper_snake(enumeration.name()));
    for value in &enumeration.value {
        let name = value.name();
        if !is_upper_snake_case(name) || !name.starts_with(&prefix) || name == prefix {
            problems.push(format!(
                "{full}.{name}: an enum value is UPPER_SNAKE_CASE prefixed with `{prefix}` \
                 (like `{prefix}ACTIVE`)"
            ));
        }
        if value.number() == 0 && name != format!("{prefix}UNSPECIFIED") {
            problems.push(format!(
                "{full}.{name}: the zero value must be `{prefix}UNSPECIFIED` (what an unset \
                 field reads as)"
            ));
        }
    }
    if !enumeration.value.iter().any(|v| v.number() == 0) {
        problems.push(format!(
            "{full}: the enum needs a zero value `{prefix}UNSPECIFIED`"
        ));
    }
}

/// Every service, rpc, message, field, enum and enum value without a non-blank leading or
/// trailing comment, as `<full name> has no comment`.
fn comment_problems(files: &[&FileDescriptorProto]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let commented: HashSet<&[i32]> = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .filter(|l| has_comment(l))
            .map(|l| l.path.as_slice())
            .collect();
        let mut need = |path: &[i32], full: &str| {
            if !commented.contains(path) {
                problems.push(format!("{full} has no comment"));
            }
        };
        let package = file.package();
        for (i, service) in file.service.iter().enumerate() {
            let path = [FILE_SERVICE, i as i32];
            let full = scoped(package, service.name());
            need(&path, &full);
            service_comments(&path, &full, service, &mut need);
        }
        for (i, message) in file.message_type.iter().enumerate() {
            let full = scoped(package, message.name());
            message_comments(&[FILE_MESSAGE, i as i32], &full, message, &mut need);
        }
        for (i, enumeration) in file.enum_type.iter().enumerate() {
            let full = scoped(package, enumeration.name());
            enum_comments(&[FILE_ENUM, i as i32], &full, enumeration, &mut need);
        }
    }
    problems
}

fn service_comments(
    path: &[i32],
    full: &str,
    service: &ServiceDescriptorProto,
    need: &mut impl FnMut(&[i32], &str),
) {
    for (j, method) in service.method.iter().enumerate() {
        need(
            &[path, &[SERVICE_METHOD, j as i32]].concat(),
            &format!("{full}.{}", method.name()),
        );
    }
}

fn message_comments(
    path: &[i32],
    full: &str,
    message: &DescriptorProto,
    need: &mut impl FnMut(&[i32], &str),
) {
    need(path, full);
    for (k, field) in message.field.iter().enumerate() {
        need(
            &[path, &[MESSAGE_FIELD, k as i32]].concat(),
            &format!("{full}.{}", field.name()),
        );
    }
    for (j, nested) in message.nested_type.iter().enumerate() {
        // A map field's entry message is made by the compiler; the field carries the comment.
        if !is_map_entry(nested) {
            let nested_path = [path, &[MESSAGE_NESTED, j as i32]].concat();
            let nested_full = format!("{full}.{}", nested.name());
            message_comments(&nested_path, &nested_full, nested, need);
        }
    }
    for (j, enumeration) in message.enum_type.iter().enumerate() {
        let enum_path = [path, &[MESSAGE_ENUM, j as i32]].concat();
        let enum_full = format!("{full}.{}", enumeration.name());
        enum_comments(&enum_path, &enum_full, enumeration, need);
    }
}

fn enum_comments(
    path: &[i32],
    full: &str,
    enumeration: &EnumDescriptorProto,
    need: &mut impl FnMut(&[i32], &str),
) {
    need(path, full);
    for (k, value) in enumeration.value.iter().enumerate() {
        need(
            &[path, &[ENUM_VALUE, k as i32]].concat(),
            &format!("{full}.{}", value.name()),
        );
    }
}

/// Messages (nested ones too) in which two fields share a number.
fn number_problems(files: &[&FileDescriptorProto]) -> Vec<String> {
    fn walk(full: &str, message: &DescriptorProto, problems: &mut Vec<String>) {
        let mut by_number: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
        for field in &message.field {
            by_number
                .entry(field.number())
                .or_default()
                .push(field.name());
        }
        for (number, names) in by_number.into_iter().filter(|(_, n)| n.len() > 1) {
            problems.push(format!(
                "{full}: field number {number} is used by {}",
                names.join(" and ")
            ));
        }
        for nested in &message.nested_type {
            walk(&format!("{full}.{}", nested.name()), nested, problems);
        }
    }
    let mut problems = Vec::new();
    for file in files {
        for message in &file.message_type {
            walk(
                &scoped(file.package(), message.name()),
                message,
                &mut problems,
            );
        }
    }
    problems
}

/// One line of the surface: its kind, what it names (`CatalogService.GetProduct`,
/// `Money.amount`, `ProductStatus.PRODUCT_STATUS_DRAFT`) and, for fields, the number.
struct SurfaceLine<'a> {
    kind: &'a str,
    key: &'a str,
    number: Option<&'a str>,
    text: &'a str,
}

/// Reads a surface line in the format `support::grpc_surface` writes; `None` when it is not.
fn parse_line(text: &str) -> Option<SurfaceLine<'_>> {
    let (kind, rest) = text.split_once(' ')?;
    let (key, number) = match kind {
        "rpc" => (rest.split_once('(')?.0, None),
        "message" | "enum" => {
            let (key, rest) = rest.split_once(" = ")?;
            (key, Some(rest.split(' ').next()?))
        }
        _ => return None,
    };
    Some(SurfaceLine {
        kind,
        key,
        number,
        text,
    })
}

/// What of the `snapshot` surface is gone or changed in the `current` one: each a breaking
/// change for clients built against the snapshot. Lines only in `current` are additions, which
/// are fine.
fn breaking_changes(snapshot: &str, current: &str) -> Vec<String> {
    let current: Vec<SurfaceLine> = current.lines().filter_map(parse_line).collect();
    let mut problems = Vec::new();
    for text in snapshot.lines().filter(|l| !l.trim().is_empty()) {
        let Some(old) = parse_line(text) else {
            problems.push(format!(
                "the snapshot line `{text}` is not in the surface format; restore the committed \
                 snapshot"
            ));
            continue;
        };
        if current.iter().any(|now| now.text == old.text) {
            continue;
        }
        let what = match old.kind {
            "rpc" => "rpc",
            "message" => "field",
            _ => "enum value",
        };
        let same_name = current
            .iter()
            .find(|now| now.kind == old.kind && now.key == old.key);
        let mut problem = match same_name {
            Some(now) => format!(
                "breaking change: {what} {} changed from `{}` to `{}`",
                old.key, old.text, now.text
            ),
            None => format!(
                "breaking change: {what} {} was removed or renamed (it was `{}`)",
                old.key, old.text
            ),
        };
        // The number of a removed or renamed field or value, taken by another one.
        let scope = old.key.split_once('.').map(|(scope, _)| scope);
        if let (Some(number), Some(scope)) = (old.number, scope) {
            let reused = current.iter().find(|now| {
                now.kind == old.kind
                    && now.number == Some(number)
                    && now.key != old.key
                    && now.key.split_once('.').map(|(s, _)| s) == Some(scope)
            });
            if let Some(now) = reused {
                problem.push_str(&format!("; its number {number} is now used by {}", now.key));
            }
        }
        problems.push(problem);
    }
    problems
}

// ------------------------------------------------------------------------------ helpers

fn scoped(package: &str, name: &str) -> String {
    if package.is_empty() {
        name.to_owned()
    } else {
        format!("{package}.{name}")
    }
}

fn is_map_entry(message: &DescriptorProto) -> bool {
    message
        .options
        .as_ref()
        .is_some_and(|options| options.map_entry())
}

fn has_comment(location: &Location) -> bool {
    [location.leading_comments(), location.trailing_comments()]
        .iter()
        .any(|text| !text.trim().is_empty())
}

/// `OrderItem`, `Oauth2Client`: an upper-case letter, then letters and digits.
fn is_pascal_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `unit_price`, `line1`: lower-case words of letters and digits joined by single `_`.
fn is_lower_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('_').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// `ORDER_STATUS_ON_HOLD`: upper-case words of letters and digits joined by single `_`.
fn is_upper_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.split('_').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
}

/// `OrderStatus` → `ORDER_STATUS`, `HTTPMethod` → `HTTP_METHOD`, `Oauth2Client` →
/// `OAUTH2_CLIENT`.
fn upper_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let previous = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Fails with every problem of one rule, numbered, and what to do about them.
fn assert_clean(rule: &str, problems: &[String], advice: &str) {
    if problems.is_empty() {
        return;
    }
    let list: String = problems
        .iter()
        .enumerate()
        .map(|(i, p)| format!("  {}. {p}\n", i + 1))
        .collect();
    panic!(
        "proto lint, {rule}: {} problem(s)\n{list}{advice}",
        problems.len()
    );
}

// ------------------------------------------------------------------------------ the tests

#[test]
fn our_proto_files_are_stateset_v1() {
    let set = grpc_surface::descriptors();
    assert_clean(
        "files",
        &file_problems(&ours(&set.file)),
        "Every file goes in proto/stateset/v1/ with `package stateset.v1;`.",
    );
}

#[test]
fn proto_names_follow_the_naming_rules() {
    let set = grpc_surface::descriptors();
    assert_clean(
        "naming",
        &naming_problems(&ours(&set.file)),
        "Rename them before they are merged: renaming a published name is a breaking change.",
    );
}

#[test]
fn every_proto_element_is_documented() {
    let set = grpc_surface::descriptors();
    assert_clean(
        "comments",
        &comment_problems(&ours(&set.file)),
        "Give each a `// ...` comment on the line(s) before it, true and useful to an \
         integrator: what it is, units and formats (UUID, ISO 4217, decimal string), what \
         empty or unset means; for an rpc also the errors it returns and the permission it \
         needs.",
    );
}

#[test]
fn no_field_number_is_used_twice() {
    let set = grpc_surface::descriptors();
    assert_clean(
        "field numbers",
        &number_problems(&ours(&set.file)),
        "Give each field a number of its own.",
    );
}

#[test]
fn the_grpc_surface_has_no_breaking_change() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(grpc_surface::SNAPSHOT);
    let snapshot = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let current = grpc_surface::surface(&grpc_surface::descriptors().file);
    assert_clean(
        &format!("breaking changes against {}", grpc_surface::SNAPSHOT),
        &breaking_changes(&snapshot, &current),
        "Clients built against the committed surface would break. Never remove, rename, \
         renumber or retype a published field, rpc or enum value: add a new one (and mark \
         the old one `[deprecated = true]`). Additions are fine; record them with \
         `UPDATE_SNAPSHOTS=1 cargo test contract`.",
    );
}

#[test]
fn the_naming_helpers_read_names_as_buf_does() {
    assert!(is_pascal_case("OrderItem") && is_pascal_case("Oauth2Client"));
    assert!(!is_pascal_case("orderItem") && !is_pascal_case("Order_Item"));
    assert!(is_lower_snake_case("unit_price") && is_lower_snake_case("line1"));
    assert!(!is_lower_snake_case("unitPrice") && !is_lower_snake_case("unit__price"));
    assert!(!is_lower_snake_case("_unit") && !is_lower_snake_case("unit_"));
    assert!(is_upper_snake_case("ORDER_STATUS_ON_HOLD"));
    assert!(!is_upper_snake_case("ORDER_status") && !is_upper_snake_case("ORDER__X"));
    assert_eq!(upper_snake("OrderStatus"), "ORDER_STATUS");
    assert_eq!(upper_snake("HTTPMethod"), "HTTP_METHOD");
    assert_eq!(upper_snake("Oauth2Client"), "OAUTH2_CLIENT");
}

/// A field of a hand-made descriptor.
fn field(name: &str, number: i32) -> prost_types::FieldDescriptorProto {
    use prost_types::field_descriptor_proto::{Label, Type};
    prost_types::FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(Label::Optional as i32),
        r#type: Some(Type::String as i32),
        ..Default::default()
    }
}

/// A comment at `path` of a hand-made descriptor.
fn commented(path: &[i32], leading: &str, trailing: &str) -> Location {
    Location {
        path: path.to_vec(),
        leading_comments: Some(leading.into()),
        trailing_comments: Some(trailing.into()),
        ..Default::default()
    }
}

fn value(name: &str, number: i32) -> prost_types::EnumValueDescriptorProto {
    prost_types::EnumValueDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        ..Default::default()
    }
}

#[test]
fn the_rules_catch_violations() {
    use prost_types::{MethodDescriptorProto, OneofDescriptorProto, SourceCodeInfo};
    let bad = FileDescriptorProto {
        name: Some("stateset/v2/GiftCards.proto".into()),
        package: Some("stateset.v2".into()),
        service: vec![ServiceDescriptorProto {
            name: Some("giftCards".into()),
            method: vec![MethodDescriptorProto {
                name: Some("get_card".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        message_type: vec![DescriptorProto {
            name: Some("gift_card".into()),
            field: vec![
                field("Code", 1),
                field("balance", 1),
                prost_types::FieldDescriptorProto {
                    oneof_index: Some(0),
                    ..field("email", 2)
                },
            ],
            oneof_decl: vec![OneofDescriptorProto {
                name: Some("SendTo".into()),
                ..Default::default()
            }],
            nested_type: vec![DescriptorProto {
                name: Some("redemption_line".into()),
                field: vec![field("amount", 1)],
                ..Default::default()
            }],
            ..Default::default()
        }],
        enum_type: vec![EnumDescriptorProto {
            name: Some("CardState".into()),
            value: vec![
                value("NONE", 0),
                value("CARD_STATE_ACTIVE", 1),
                value("used", 2),
            ],
            ..Default::default()
        }],
        source_code_info: Some(SourceCodeInfo {
            location: vec![
                // The message, one field and an enum value are documented (leading, trailing);
                // a blank comment counts as none.
                commented(&[FILE_MESSAGE, 0], " A gift card.\n", ""),
                commented(
                    &[FILE_MESSAGE, 0, MESSAGE_FIELD, 1],
                    "",
                    " Left to spend.\n",
                ),
                commented(&[FILE_ENUM, 0, ENUM_VALUE, 1], " Can be spent.\n", ""),
                commented(&[FILE_SERVICE, 0], "  \n", ""),
            ],
        }),
        ..Default::default()
    };
    let files = [&bad];
    let all = [
        file_problems(&files),
        naming_problems(&files),
        comment_problems(&files),
        number_problems(&files),
    ]
    .concat();
    let expected = [
        "stateset/v2/GiftCards.proto: package is `stateset.v2`; it must be `stateset.v1`",
        "stateset/v2/GiftCards.proto: the file must be proto/stateset/v1/<lower_snake_case>.proto",
        "stateset.v2.giftCards: a service name is PascalCase ending in `Service`",
        "stateset.v2.giftCards.get_card: an rpc name is PascalCase",
        "stateset.v2.gift_card: a message name is PascalCase",
        "stateset.v2.gift_card.Code: a field name is lower_snake_case",
        "stateset.v2.gift_card.SendTo: a oneof name is lower_snake_case",
        "stateset.v2.gift_card.redemption_line: a message name is PascalCase",
        "stateset.v2.CardState.NONE: an enum value is UPPER_SNAKE_CASE prefixed with `CARD_STATE_`",
        "stateset.v2.CardState.NONE: the zero value must be `CARD_STATE_UNSPECIFIED`",
        "stateset.v2.CardState.used: an enum value is UPPER_SNAKE_CASE prefixed with `CARD_STATE_`",
        "stateset.v2.giftCards has no comment",
        "stateset.v2.giftCards.get_card has no comment",
        "stateset.v2.gift_card.Code has no comment",
        "stateset.v2.gift_card.email has no comment",
        "stateset.v2.gift_card.redemption_line has no comment",
        "stateset.v2.gift_card.redemption_line.amount has no comment",
        "stateset.v2.CardState has no comment",
        "stateset.v2.CardState.NONE has no comment",
        "stateset.v2.CardState.used has no comment",
        "stateset.v2.gift_card: field number 1 is used by Code and balance",
    ];
    for want in expected {
        assert!(
            all.iter().any(|p| p.starts_with(want)),
            "expected a problem starting with {want:?}; got:\n{}",
            all.join("\n")
        );
    }
    assert_eq!(
        all.len(),
        expected.len(),
        "only the planted problems are reported; got:\n{}",
        all.join("\n")
    );
    for documented in [
        "stateset.v2.gift_card has",
        "stateset.v2.gift_card.balance has",
        "stateset.v2.CardState.CARD_STATE_ACTIVE",
    ] {
        assert!(
            !all.iter().any(|p| p.starts_with(documented)),
            "{documented} is documented or well named"
        );
    }

    // Google's own files are imports, not ours; anything else is ours.
    let imported = FileDescriptorProto {
        name: Some("google/protobuf/struct.proto".into()),
        package: Some("google.protobuf".into()),
        ..Default::default()
    };
    let pair = [imported, bad.clone()];
    assert_eq!(
        ours(&pair).iter().map(|f| f.name()).collect::<Vec<_>>(),
        ["stateset/v2/GiftCards.proto"]
    );
}

#[test]
fn the_breaking_change_check_catches_removed_and_changed_elements() {
    use prost_types::MethodDescriptorProto;
    let snapshot = "\
rpc Cards.GetCard(.stateset.v1.GetCardRequest) returns (.stateset.v1.Card)
rpc Cards.ListCards(.stateset.v1.ListCardsRequest) returns (.stateset.v1.ListCardsResponse)
rpc Cards.DeleteCard(.stateset.v1.DeleteCardRequest) returns (.stateset.v1.Card)
message Card.id = 1 Optional String 
message Card.code = 2 Optional String 
message Card.balance = 3 Optional String 
message Card.pin = 4 Optional String 
enum CardState.CARD_STATE_UNSPECIFIED = 0
enum CardState.CARD_STATE_ACTIVE = 1
this line is not a surface line
";
    let method = |name: &str, input: &str, output: &str, streaming: bool| MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(format!(".stateset.v1.{input}")),
        output_type: Some(format!(".stateset.v1.{output}")),
        server_streaming: Some(streaming),
        ..Default::default()
    };
    let current = FileDescriptorProto {
        name: Some("stateset/v1/cards.proto".into()),
        package: Some("stateset.v1".into()),
        service: vec![ServiceDescriptorProto {
            name: Some("Cards".into()),
            method: vec![
                // Unchanged, newly streaming, and a new rpc (fine); DeleteCard is gone.
                method("GetCard", "GetCardRequest", "Card", false),
                method("ListCards", "ListCardsRequest", "ListCardsResponse", true),
                method("FreezeCard", "FreezeCardRequest", "Card", false),
            ],
            ..Default::default()
        }],
        message_type: vec![DescriptorProto {
            name: Some("Card".into()),
            field: vec![
                // `code` renamed to `number` on 2; `balance` retyped; `pin` removed; `note` new.
                field("id", 1),
                field("number", 2),
                prost_types::FieldDescriptorProto {
                    r#type: Some(prost_types::field_descriptor_proto::Type::Int64 as i32),
                    ..field("balance", 3)
                },
                field("note", 5),
            ],
            ..Default::default()
        }],
        enum_type: vec![EnumDescriptorProto {
            name: Some("CardState".into()),
            value: vec![
                value("CARD_STATE_UNSPECIFIED", 0),
                value("CARD_STATE_ACTIVE", 2),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let problems = breaking_changes(snapshot, &grpc_surface::surface(&[current]));
    let expected = [
        "breaking change: rpc Cards.ListCards changed from `rpc Cards.ListCards(.stateset.v1.\
         ListCardsRequest) returns (.stateset.v1.ListCardsResponse)` to `rpc Cards.ListCards(\
         .stateset.v1.ListCardsRequest) returns (stream .stateset.v1.ListCardsResponse)`",
        "breaking change: rpc Cards.DeleteCard was removed or renamed",
        "breaking change: field Card.code was removed or renamed (it was \
         `message Card.code = 2 Optional String `); its number 2 is now used by Card.number",
        "breaking change: field Card.balance changed from `message Card.balance = 3 Optional \
         String ` to `message Card.balance = 3 Optional Int64 `",
        "breaking change: field Card.pin was removed or renamed",
        "breaking change: enum value CardState.CARD_STATE_ACTIVE changed from \
         `enum CardState.CARD_STATE_ACTIVE = 1` to `enum CardState.CARD_STATE_ACTIVE = 2`",
        "the snapshot line `this line is not a surface line` is not in the surface format",
    ];
    for want in expected {
        assert!(
            problems.iter().any(|p| p.starts_with(want)),
            "expected a problem starting with {want:?}; got:\n{}",
            problems.join("\n")
        );
    }
    assert_eq!(
        problems.len(),
        expected.len(),
        "unchanged and added elements are fine; got:\n{}",
        problems.join("\n")
    );
    let readable: String = snapshot.lines().take(9).map(|l| format!("{l}\n")).collect();
    assert!(
        breaking_changes(&readable, &readable).is_empty(),
        "a surface is compatible with itself"
    );
}
