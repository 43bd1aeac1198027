# Multi-stage build of the parley binary. The build stage needs only crates.io; the runtime
# stage is a slim Debian with the binary. Migrations, stream definitions and the web client
# (web/) are compiled in.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY streams ./streams
COPY projections ./projections
COPY web ./web
COPY .sqlx ./.sqlx
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --bin parley

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 parley
COPY --from=build /src/target/release/parley /usr/local/bin/parley
USER parley
ENV PARLEY_LISTEN=0.0.0.0:8080 \
    PARLEY_LOG_FORMAT=json \
    PARLEY_ENV=production
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/parley"]
CMD ["serve"]
