# flinkscan container image: the release binary on distroless (glibc, no shell), run as non-root.
#   docker build -t registry.example.com/flinkscan:0.1.0 .
# Kubernetes manifests using it: deploy/kubernetes/ (see deploy/README.md).

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# The whole crate (see .dockerignore): Cargo.lock pins every dependency (--locked),
# probes/ is embedded into the binary at compile time.
COPY . .
RUN cargo build --release --locked --bin flinkscan \
 && strip target/release/flinkscan

# cc-debian12 = glibc + libgcc_s, which is all the binary links (TLS is rustls/ring).
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="flinkscan" \
      org.opencontainers.image.description="Active network exposure scanner for Apache Flink" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/target/release/flinkscan /usr/local/bin/flinkscan
# Numeric, so Kubernetes' runAsNonRoot can verify it (65532 = distroless "nonroot").
USER 65532:65532
# A one-shot scanner, not a service: there is nothing to health-check.
HEALTHCHECK NONE
# flinkscan runs as PID 1 (distroless has no shell or init). The kernel drops signals that PID 1
# has no handler for; flinkscan installs SIGTERM and SIGINT handlers before its first lookup, so
# `docker stop` and a Kubernetes eviction stop the scan, give identification in flight up to 10 s
# and write every report (exit 143), well inside the default 30 s before SIGKILL. It starts no
# child processes, so no init is needed to reap them; `docker run --init` (tini) also works.
ENTRYPOINT ["/usr/local/bin/flinkscan"]
CMD ["--help"]
