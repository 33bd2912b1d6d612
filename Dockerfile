# flinkscan container: static-ish release binary on a minimal, non-root base.
# Build: docker build -t flinkscan:0.1.0 .
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin flinkscan \
 && strip target/release/flinkscan

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/flinkscan /usr/local/bin/flinkscan
USER 65532:65532
# A one-shot scanner, not a service: nothing to health-check.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/flinkscan"]
CMD ["--help"]
