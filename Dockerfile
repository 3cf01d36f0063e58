# syntax=docker/dockerfile:1
#
# One image per binary of the CRM suite:
#   docker build --build-arg BIN=crm-customers -t crm-customers:0.1.0 .
# (scripts/images.sh builds them all; `make images`.)
#
# Stages: chef (toolchain + cargo-chef) -> planner (dependency recipe from the manifests only)
# -> builder (dependencies cooked in their own layer, then the one binary) -> runtime
# (distroless static, non-root, just the binary). The dependency layer is rebuilt only when
# Cargo.toml/Cargo.lock change, and is shared by every BIN, so the second and later images
# compile one crate each.
#
# The binaries are static musl executables: no libc in the runtime image, which keeps each
# image near the size of its binary (goal <= 30 MB). Protobuf is compiled by protox (pure
# Rust), so no protoc is installed.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# musl-tools: musl-gcc for the C parts (ring, the bundled SQLite). The build runs for the
# platform of the image (amd64 or arm64), so the musl target is that machine's own.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add "$(uname -m)-unknown-linux-musl" \
 && echo "$(uname -m)-unknown-linux-musl" > /rust-target
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}" \
 && rm -rf "${CARGO_HOME}/registry"
WORKDIR /src

# ---------------------------------------------------------------------------------------------
FROM chef AS planner
COPY . .
# recipe.json: the workspace's manifests and lockfile with the sources stubbed out.
RUN cargo chef prepare --recipe-path recipe.json

# ---------------------------------------------------------------------------------------------
FROM chef AS builder
# cc-rs would look for <arch>-linux-musl-gcc on arm64; Debian's musl-tools ships musl-gcc.
ENV CARGO_INCREMENTAL=0 \
    CARGO_NET_RETRY=5 \
    CC_x86_64_unknown_linux_musl=musl-gcc \
    CC_aarch64_unknown_linux_musl=musl-gcc
COPY --from=planner /src/recipe.json recipe.json
# Every dependency of the workspace, for the release profile of Cargo.toml (thin LTO, stripped).
# This layer does not depend on BIN, so all images share it.
RUN cargo chef cook --release --locked --workspace --target "$(cat /rust-target)" --recipe-path recipe.json
COPY . .
ARG BIN=crm-customers
# --workspace keeps feature unification identical to the cook step (all members selected), so
# no dependency is rebuilt with other features; --bin then builds just the one binary.
RUN cargo build --release --locked --workspace --target "$(cat /rust-target)" --bin "${BIN}" \
 && mkdir -p /out \
 && cp "target/$(cat /rust-target)/release/${BIN}" "/out/${BIN}" \
 && ln -s "${BIN}" /out/crm

# ---------------------------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
ARG BIN=crm-customers
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="${BIN}" \
      org.opencontainers.image.description="CRM suite: ${BIN} (gRPC on 50051; subcommands serve, migrate, healthcheck)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# /usr/local/bin/<BIN> plus the symlink /usr/local/bin/crm -> <BIN>: ENTRYPOINT cannot expand a
# build argument, so every image starts its binary through the same fixed path.
COPY --from=builder /out/ /usr/local/bin/
# Container defaults; the Helm chart sets these too.
ENV CRM_SERVER__HOST=0.0.0.0 \
    CRM_SERVER__PORT=50051 \
    CRM_TELEMETRY__FORMAT=json
EXPOSE 50051
# distroless "nonroot" (65532), numeric so that Kubernetes can verify runAsNonRoot.
USER 65532:65532
# For docker/compose users (Kubernetes uses its own gRPC probes): the image has no shell, so
# the binary is its own health client.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/crm", "healthcheck", "--addr", "127.0.0.1:50051"]
ENTRYPOINT ["/usr/local/bin/crm"]
CMD ["serve"]
