//! A gRPC client with no generated code, as grpcurl or a reflection-driven tool works: it
//! learns the services and message types from the server's reflection service, writes
//! requests from JSON (the proto3 JSON mapping, with proto field names) and reads answers
//! back as JSON.

use futures::StreamExt as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use serde_json::Value;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Request, Status};
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

/// What the server described of itself, and a channel to call it on.
#[derive(Clone)]
pub struct ReflectionClient {
    channel: Channel,
    pool: DescriptorPool,
    services: Vec<String>,
}

impl ReflectionClient {
    /// Asks the server's reflection for its services and every file they need.
    pub async fn discover(channel: Channel) -> Self {
        let services: Vec<String> =
            match ask(&channel, MessageRequest::ListServices(String::new())).await {
                MessageResponse::ListServicesResponse(list) => {
                    list.service.into_iter().map(|s| s.name).collect()
                }
                other => panic!("no service list: {other:?}"),
            };
        let mut files = std::collections::BTreeMap::new();
        let mut wanted: Vec<MessageRequest> = services
            .iter()
            .map(|s| MessageRequest::FileContainingSymbol(s.clone()))
            .collect();
        while let Some(request) = wanted.pop() {
            let MessageResponse::FileDescriptorResponse(found) = ask(&channel, request).await
            else {
                panic!("no file descriptor")
            };
            for bytes in found.file_descriptor_proto {
                let file = prost_types::FileDescriptorProto::decode(bytes.as_slice())
                    .expect("a file descriptor");
                for dependency in &file.dependency {
                    if !files.contains_key(dependency) {
                        wanted.push(MessageRequest::FileByFilename(dependency.clone()));
                    }
                }
                files.insert(file.name().to_owned(), file);
            }
        }
        let mut pool = DescriptorPool::new();
        pool.add_file_descriptor_protos(files.into_values())
            .expect("the served files make a pool");
        Self {
            channel,
            pool,
            services,
        }
    }

    /// The services the server lists, e.g. `stateset.v1.CartService`.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// Every method of the `stateset.v1` services, as `Service/Method`.
    pub fn methods(&self) -> Vec<String> {
        self.pool
            .services()
            .filter(|s| s.package_name() == "stateset.v1")
            .flat_map(|s| {
                s.methods()
                    .map(|m| format!("{}/{}", s.name(), m.name()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn method(&self, name: &str) -> MethodDescriptor {
        let (service, method) = name.split_once('/').expect("Service/Method");
        self.pool
            .get_service_by_name(&format!("stateset.v1.{service}"))
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .unwrap_or_else(|| panic!("{name} is not described"))
    }

    /// Calls a unary method (`CartService/CreateCart`) with a JSON request, as `token`.
    pub async fn call(
        &self,
        name: &str,
        request: Value,
        token: Option<&str>,
    ) -> Result<Value, Status> {
        let method = self.method(name);
        let message = from_json(method.input(), request);
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.expect("channel ready");
        let answer = grpc
            .unary(
                authorized(message, token),
                path(&method),
                DynamicCodec(method.output()),
            )
            .await?;
        Ok(to_json(&answer.into_inner()))
    }

    /// Calls any method, unary or server streaming (a stream is opened and dropped), for
    /// whether the server lets the caller in.
    pub async fn reach(
        &self,
        name: &str,
        request: Value,
        token: Option<&str>,
    ) -> Result<(), Status> {
        if self.method(name).is_server_streaming() {
            self.stream(name, request, token).await.map(drop)
        } else {
            self.call(name, request, token).await.map(drop)
        }
    }

    /// Opens a server stream (`EventService/Subscribe`) and gives its messages as JSON.
    pub async fn stream(
        &self,
        name: &str,
        request: Value,
        token: Option<&str>,
    ) -> Result<impl futures::Stream<Item = Result<Value, Status>> + use<>, Status> {
        let method = self.method(name);
        assert!(method.is_server_streaming(), "{name} does not stream");
        let message = from_json(method.input(), request);
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.expect("channel ready");
        let stream = grpc
            .server_streaming(
                authorized(message, token),
                path(&method),
                DynamicCodec(method.output()),
            )
            .await?
            .into_inner();
        Ok(stream.map(|item| item.map(|message| to_json(&message))))
    }
}

/// One question to the reflection service.
async fn ask(channel: &Channel, question: MessageRequest) -> MessageResponse {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(question),
    };
    let path = axum::http::uri::PathAndQuery::from_static(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    );
    let codec =
        tonic_prost::ProstCodec::<ServerReflectionRequest, ServerReflectionResponse>::default();
    let mut answers = grpc
        .streaming(Request::new(futures::stream::iter([request])), path, codec)
        .await
        .expect("reflection answers")
        .into_inner();
    answers
        .message()
        .await
        .expect("a reflection answer")
        .and_then(|a| a.message_response)
        .expect("a reflection message")
}

fn path(method: &MethodDescriptor) -> axum::http::uri::PathAndQuery {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
        .parse()
        .expect("a method path")
}

fn authorized(message: DynamicMessage, token: Option<&str>) -> Request<DynamicMessage> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    request
}

fn from_json(descriptor: MessageDescriptor, json: Value) -> DynamicMessage {
    DynamicMessage::deserialize(descriptor, json).expect("the request fits its message")
}

fn to_json(message: &DynamicMessage) -> Value {
    let options = prost_reflect::SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .expect("a message as JSON")
}

/// Encodes and decodes messages known only by their descriptor.
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicCodec;
    type Decoder = DynamicCodec;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicCodec(self.0.clone())
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicCodec(self.0.clone())
    }
}

impl Encoder for DynamicCodec {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding: {e}")))
    }
}

impl Decoder for DynamicCodec {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(format!("decoding: {e}")))
    }
}
