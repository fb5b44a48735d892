//! Typed settings read from the environment, with defaults that run on a fresh machine.

use std::net::SocketAddr;

use anyhow::Context as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default; for log shippers).
    Json,
    /// Human-readable, coloured lines.
    Pretty,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL URL of the system of record (`DATABASE_URL`).
    pub database_url: String,
    /// Largest number of pooled database connections (`DATABASE_MAX_CONNECTIONS`, default 16).
    pub database_max_connections: u32,
    /// Address of the HTTP listener: GraphQL, REST, health, metrics (`HTTP_ADDR`).
    pub http_addr: SocketAddr,
    /// Address of the gRPC listener (`GRPC_ADDR`).
    pub grpc_addr: SocketAddr,
    /// Log line format (`LOG_FORMAT`: `json` or `pretty`).
    pub log_format: LogFormat,
}

/// The database a fresh machine of this kind can reach with trust authentication.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/stateset";

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |name: &str, default: &str| lookup(name).unwrap_or_else(|| default.to_owned());
        let log_format = match var("LOG_FORMAT", "json").as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => anyhow::bail!("LOG_FORMAT must be `json` or `pretty`, not `{other}`"),
        };
        Ok(Self {
            database_url: var("DATABASE_URL", DEFAULT_DATABASE_URL),
            database_max_connections: var("DATABASE_MAX_CONNECTIONS", "16")
                .parse()
                .context("DATABASE_MAX_CONNECTIONS must be a positive integer")?,
            http_addr: var("HTTP_ADDR", "0.0.0.0:8080")
                .parse()
                .context("HTTP_ADDR must be an address such as 0.0.0.0:8080")?,
            grpc_addr: var("GRPC_ADDR", "0.0.0.0:50051")
                .parse()
                .context("GRPC_ADDR must be an address such as 0.0.0.0:50051")?,
            log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_without_any_environment() -> anyhow::Result<()> {
        let config = Config::from_lookup(|_| None)?;
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.http_addr.port(), 8080);
        assert_eq!(config.grpc_addr.port(), 50051);
        assert_eq!(config.log_format, LogFormat::Json);
        Ok(())
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err = Config::from_lookup(|name| (name == "HTTP_ADDR").then(|| "nope".to_owned()));
        assert!(
            format!("{:#}", err.err().map(|e| e.to_string()).unwrap_or_default())
                .contains("HTTP_ADDR")
        );
    }
}
