//! The gRPC surface as the contract snapshot pins it, one line per element of the
//! `stateset.v1` files:
//!
//! ```text
//! rpc <Service>.<Method>([stream ]<input type>) returns ([stream ]<output type>)
//! message <Message>.<field> = <number> <Label> <Type> <type name or nothing>
//! enum <Enum>.<VALUE> = <number>
//! ```
//!
//! Only top-level messages and enums are listed. `contract` compares these lines with the
//! committed [`SNAPSHOT`]; `proto_lint` checks that none of the committed lines disappeared or
//! changed (a breaking change).

use prost::Message as _;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

/// The committed snapshot, relative to the package root.
pub const SNAPSHOT: &str = "tests/it/snapshots/grpc_surface.txt";

/// The descriptors the server was built with and reflection serves: every file under `proto/`
/// with its source info, plus the imported well-known types.
pub fn descriptors() -> FileDescriptorSet {
    FileDescriptorSet::decode(stateset::adapters::grpc::pb::FILE_DESCRIPTOR_SET)
        .expect("the built-in descriptor set decodes")
}

/// The surface lines of the `stateset.v1` files among `files`, each ending in a newline.
pub fn surface(files: &[FileDescriptorProto]) -> String {
    let mut lines = Vec::new();
    for file in files.iter().filter(|f| f.package() == "stateset.v1") {
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
    lines.join("\n") + "\n"
}
