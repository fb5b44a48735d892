//! The one mapping from service errors to GraphQL errors (`extensions.code`).

use async_graphql::ErrorExtensions as _;

use crate::services::Error;

/// Turns a service error into a GraphQL error with `extensions.code` and details;
/// field paths are given in GraphQL's camelCase.
pub fn to_graphql_error(err: Error) -> async_graphql::Error {
    if err.is_server_fault() {
        tracing::error!(error = ?err, "request failed");
    }
    let code = err.code();
    let mut details = err.details();
    if let Some(fields) = details.get_mut("fields").and_then(|f| f.as_array_mut()) {
        for field in fields {
            if let Some(path) = field
                .get("field")
                .and_then(|p| p.as_str())
                .map(camel_case_path)
            {
                field["field"] = serde_json::Value::String(path);
            }
        }
    }
    if let Some(path) = details
        .get("field")
        .and_then(|p| p.as_str())
        .map(camel_case_path)
    {
        details["field"] = serde_json::Value::String(path);
    }
    let details = async_graphql::Value::from_json(details).unwrap_or_default();
    async_graphql::Error::new(err.to_string()).extend_with(move |_, e| {
        e.set("code", code);
        if let async_graphql::Value::Object(map) = &details {
            for (key, value) in map {
                e.set(key.as_str(), value.clone());
            }
        }
    })
}

/// `variants[0].compare_at_price` → `variants[0].compareAtPrice`.
fn camel_case_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for ch in path.chars() {
        match ch {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// `.gql()` on a service result: the only way resolvers turn service errors into GraphQL ones.
pub trait GqlResult<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for Result<T, Error> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_graphql_error)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_become_camel_case() {
        assert_eq!(
            super::camel_case_path("variants[0].compare_at_price.amount"),
            "variants[0].compareAtPrice.amount"
        );
        assert_eq!(super::camel_case_path("name"), "name");
    }
}
