//! Contract snapshots: the GraphQL SDL, the OpenAPI document and the proto files are pinned.
//! Run with `UPDATE_SNAPSHOTS=1` after an intended change to rewrite them, then review the diff.

use std::path::PathBuf;

fn check(path: &str, actual: &str) {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&file, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        expected == actual,
        "{path} is out of date: run `UPDATE_SNAPSHOTS=1 cargo test contract` (or `stateset export-schema` \
         for schema.graphql) and review the diff"
    );
}

#[test]
fn schema_graphql_equals_the_generated_sdl() {
    check("schema.graphql", &stateset::adapters::graphql::sdl());
}

#[test]
fn the_openapi_document_is_pinned() {
    let doc = stateset::adapters::rest::openapi()
        .to_pretty_json()
        .unwrap();
    check("tests/it/snapshots/openapi.json", &format!("{doc}\n"));
}

#[test]
fn the_grpc_surface_is_pinned() {
    // The services, methods and message fields that reflection serves, one line each.
    use prost::Message as _;
    let set =
        prost_types::FileDescriptorSet::decode(stateset::adapters::grpc::pb::FILE_DESCRIPTOR_SET)
            .unwrap();
    let mut lines = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == "stateset.v1") {
        for service in &file.service {
            for method in &service.method {
                let stream = |streaming: bool| if streaming { "stream " } else { "" };
                lines.push(format!(
                    "rpc {}.{}({}{}) returns ({}{})",
                    service.name(),
                    method.name(),
                    stream(method.client_streaming()),
                    method.input_type(),
                    stream(method.server_streaming()),
                    method.output_type()
                ));
            }
        }
        for message in &file.message_type {
            for field in &message.field {
                lines.push(format!(
                    "message {}.{} = {} {:?} {:?} {}",
                    message.name(),
                    field.name(),
                    field.number(),
                    field.label(),
                    field.r#type(),
                    field.type_name()
                ));
            }
        }
        for enumeration in &file.enum_type {
            for value in &enumeration.value {
                lines.push(format!(
                    "enum {}.{} = {}",
                    enumeration.name(),
                    value.name(),
                    value.number()
                ));
            }
        }
    }
    check(
        "tests/it/snapshots/grpc_surface.txt",
        &(lines.join("\n") + "\n"),
    );
}
