# Multi-stage build: compile in the Rust image, run in a small Debian image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin stateset --bin stateset-cli

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 stateset
COPY --from=build /src/target/release/stateset /src/target/release/stateset-cli /usr/local/bin/
USER stateset
ENV HTTP_ADDR=0.0.0.0:8080 GRPC_ADDR=0.0.0.0:50051 LOG_FORMAT=json
EXPOSE 8080 50051
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
ENTRYPOINT ["stateset"]
CMD ["serve"]
