//! A fuzz run over the OpenAPI document: every operation it describes gets a few requests built
//! from the document alone (random UUIDs for ids, values from each schema, `$ref`s resolved),
//! sent as the administrator. Whatever the input, no answer may be a server error.
//!
//! Seeded (`FUZZ_SEED`, `FUZZ_VARIANTS` to widen a run) so a failure is reproduced exactly; every
//! failing request is printed.

use axum::body::Body;
use axum::http::{Method, Request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::support::TestApp;

const DEFAULT_SEED: u64 = 0x5eed_0a1f;
const DEFAULT_VARIANTS: u64 = 4;
/// Nested schemas deeper than this get no optional parts, so recursive types stay finite.
const MAX_DEPTH: u32 = 5;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds values that satisfy (or nearly satisfy) the schemas of one OpenAPI document.
pub(crate) struct Generator<'a> {
    pub(crate) doc: &'a Value,
    pub(crate) rng: StdRng,
}

impl Generator<'_> {
    fn pick<'v>(&mut self, options: &'v [Value]) -> &'v Value {
        &options[self.rng.random_range(0..options.len())]
    }

    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn value(&mut self, schema: &Value, depth: u32) -> Value {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/components/schemas/");
            let target = &self.doc["components"]["schemas"][name];
            assert!(!target.is_null(), "unresolved $ref {reference}");
            return self.value(target, depth + 1);
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for part in parts {
                match self.value(part, depth) {
                    Value::Object(fields) => merged.extend(fields),
                    other => return other,
                }
            }
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let choice = self.pick(options).clone();
                return self.value(&choice, depth);
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            // Mostly a listed value, sometimes one the server must refuse cleanly.
            return if self.rng.random_bool(0.9) {
                self.pick(options).clone()
            } else {
                json!("not-a-listed-value")
            };
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if types.contains(&"null") && self.rng.random_bool(0.2) {
            return Value::Null;
        }
        let concrete: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        let kind = if concrete.is_empty() {
            if schema.get("properties").is_some() {
                "object"
            } else {
                "string"
            }
        } else {
            concrete[self.rng.random_range(0..concrete.len())]
        };
        match kind {
            "object" => self.object(schema, depth),
            "array" => {
                let items = schema.get("items").cloned().unwrap_or(json!({}));
                let count = if depth >= MAX_DEPTH {
                    0
                } else {
                    self.rng.random_range(0..=3)
                };
                Value::Array((0..count).map(|_| self.value(&items, depth + 1)).collect())
            }
            "integer" => self.integer(schema),
            "number" => self.number(),
            "boolean" => Value::Bool(self.rng.random()),
            _ => Value::String(self.string(schema)),
        }
    }

    fn object(&mut self, schema: &Value, depth: u32) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields = Map::new();
        match schema.get("properties").and_then(Value::as_object) {
            Some(properties) => {
                for (name, property) in properties {
                    let wanted = if required.contains(&name.as_str()) {
                        self.rng.random_bool(0.95)
                    } else {
                        depth < MAX_DEPTH && self.rng.random_bool(0.5)
                    };
                    if wanted {
                        fields.insert(name.clone(), self.value(property, depth + 1));
                    }
                }
            }
            None if self.rng.random_bool(0.5) => {
                let value = self.string(&json!({}));
                fields.insert("key".into(), Value::String(value));
            }
            None => {}
        }
        Value::Object(fields)
    }

    fn integer(&mut self, schema: &Value) -> Value {
        let wide = schema.get("format").and_then(Value::as_str) == Some("int64");
        let mut edges = vec![
            0,
            1,
            -1,
            2,
            7,
            100,
            10_000,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
        ];
        if wide {
            edges.extend([i64::MAX, i64::MIN, 86_400 * 365 * 10_000]);
        }
        for bound in ["minimum", "maximum"] {
            if let Some(b) = schema.get(bound).and_then(Value::as_i64) {
                edges.extend([b, b - 1, b + 1]);
            }
        }
        json!(edges[self.rng.random_range(0..edges.len())])
    }

    fn number(&mut self) -> Value {
        let edges = [0.0, 1.5, -1.0, 0.0001, 1e9, -1e18, 1e300];
        json!(edges[self.rng.random_range(0..edges.len())])
    }

    fn string(&mut self, schema: &Value) -> String {
        match schema.get("format").and_then(Value::as_str) {
            Some("uuid") => return self.uuid(),
            Some("date-time") => {
                let times = [
                    "2026-01-01T00:00:00Z",
                    "1970-01-01T00:00:00Z",
                    "9999-12-31T23:59:59Z",
                    "2026-06-15T12:30:00+02:00",
                    "not-a-time",
                ];
                return times[self.rng.random_range(0..times.len())].to_owned();
            }
            _ => {}
        }
        let random: String = (0..self.rng.random_range(1..12))
            .map(|_| char::from(self.rng.random_range(b'a'..=b'z')))
            .collect();
        let pool = [
            String::new(),
            random.clone(),
            format!("{random}@example.com"),
            "12.50".into(),
            "-3".into(),
            "0".into(),
            "99999999999999999999999999999.99".into(),
            "1e400".into(),
            "USD".into(),
            "EUR".into(),
            "https://example.com/hook".into(),
            "ÿ😀 \u{0}".into(),
            "%_\\".into(),
            "' OR 1=1 --".into(),
            "x".repeat(300),
            self.uuid(),
        ];
        pool[self.rng.random_range(0..pool.len())].clone()
    }
}

/// Percent-encodes a query or path value (unreserved characters pass through).
fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn as_param(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(as_param).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One request built from an operation, printable when it fails.
pub(crate) struct Built {
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) body: Option<Value>,
}

pub(crate) fn build(
    generator: &mut Generator<'_>,
    path: &str,
    method: &Method,
    operation: &Value,
) -> Built {
    let mut uri = path.to_owned();
    let mut query = Vec::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        let name = parameter["name"].as_str().unwrap_or_default();
        let schema = &parameter["schema"];
        match parameter["in"].as_str() {
            Some("path") => {
                let value = as_param(&generator.value(schema, 0));
                let value = if value.is_empty() {
                    generator.uuid()
                } else {
                    value
                };
                uri = uri.replace(&format!("{{{name}}}"), &encode(&value));
            }
            Some("query") if parameter["required"] == true || generator.rng.random_bool(0.5) => {
                let value = generator.value(schema, 0);
                query.push(format!("{name}={}", encode(&as_param(&value))));
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        uri = format!("{uri}?{}", query.join("&"));
    }
    let body_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let body = (!body_schema.is_null()
        && (operation["requestBody"]["required"] == true || generator.rng.random_bool(0.7)))
    .then(|| generator.value(body_schema, 0));
    Built {
        method: method.clone(),
        uri,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_built_from_the_openapi_document_gets_a_server_error() {
    let t = TestApp::new().await;
    let seed = env_u64("FUZZ_SEED", DEFAULT_SEED);
    let variants = env_u64("FUZZ_VARIANTS", DEFAULT_VARIANTS);
    let (status, doc) = t
        .json_as(
            &crate::support::Auth::Anonymous,
            Method::GET,
            "/api-docs/openapi.json",
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let paths = doc["paths"].as_object().expect("paths");

    let mut sent = 0;
    let mut failures = Vec::new();
    for (index, (path, operations)) in paths.iter().enumerate() {
        for (method, operation) in operations.as_object().into_iter().flatten() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            for variant in 0..variants {
                // One stream per operation and variant: a failure reruns alone, identically.
                let stream = seed ^ ((index as u64) << 32) ^ (variant << 8) ^ method_tag(&method);
                let mut generator = Generator {
                    doc: &doc,
                    rng: StdRng::seed_from_u64(stream),
                };
                let built = build(&mut generator, path, &method, operation);
                let mut request = Request::builder()
                    .method(built.method.clone())
                    .uri(&built.uri)
                    .header("authorization", format!("Bearer {}", t.admin));
                if built.method != Method::GET {
                    request = request.header("idempotency-key", generator.uuid());
                }
                let request = match &built.body {
                    Some(body) => request
                        .header("content-type", "application/json")
                        .body(Body::from(body.to_string())),
                    None => request.body(Body::empty()),
                }
                .expect("request");
                let (status, _, response) = t.request(request).await;
                sent += 1;
                if status.is_server_error() {
                    failures.push(format!(
                        "{} {} (stream {stream:#x})\n  body: {}\n  -> {status} {}",
                        built.method,
                        built.uri,
                        built
                            .body
                            .map_or_else(|| "(none)".into(), |b| b.to_string()),
                        String::from_utf8_lossy(&response)
                    ));
                }
            }
        }
    }
    assert!(
        sent > 100,
        "only {sent} requests were built from the document"
    );
    assert!(
        failures.is_empty(),
        "FUZZ_SEED={seed}: {} of {sent} requests got a server error:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn method_tag(method: &Method) -> u64 {
    method
        .as_str()
        .bytes()
        .fold(0, |acc, b| acc * 31 + u64::from(b))
}
