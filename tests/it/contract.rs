//! Contract snapshots: the GraphQL SDL, the OpenAPI document and the proto files are pinned.
//! Run with `UPDATE_SNAPSHOTS=1` after an intended change to rewrite them, then review the diff.

use std::path::PathBuf;

use crate::support::grpc_surface;

fn check(path: &str, actual: &str) {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        // Written aside and renamed, so a test reading the snapshot at the same time
        // (`proto_lint`) sees the old file or the new one, never half of one.
        let fresh = file.with_extension("new");
        std::fs::write(&fresh, actual).unwrap();
        std::fs::rename(&fresh, &file).unwrap();
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
    let set = grpc_surface::descriptors();
    check(grpc_surface::SNAPSHOT, &grpc_surface::surface(&set.file));
}
