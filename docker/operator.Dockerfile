# The Tidemark operator image: one statically linked binary on an empty base, non-root.
#
# Build the binary first (static glibc, checked with `file` and `ldd`), then the image,
# from the repository root:
#   scripts/build-static
#   docker build -f docker/operator.Dockerfile -t tidemark-operator:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# BIN_DIR is the directory (in the build context) holding the binary: the release
# directory scripts/build-static writes by default; scripts/build-images (the tests)
# feeds a cheaper static build from its own context (docs/images.md).
#
# The binary reaches the API server with the in-cluster service-account CA; the CA bundle
# copied below is for HTTPS webhook notifications only. Host names are resolved by a
# pure-Rust resolver that reads /etc/hosts and /etc/resolv.conf itself (a static glibc
# cannot load the NSS modules of getaddrinfo, and `scratch` has none).
# No HEALTHCHECK: Kubernetes probes are the chart's job.

FROM debian:12-slim AS certs
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

FROM scratch
ARG BIN_DIR=target/x86_64-unknown-linux-gnu/release
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/tidemark-dev/tidemark
LABEL org.opencontainers.image.title="tidemark-operator" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY ${BIN_DIR}/tidemark-operator /tidemark-operator
# 65532: the conventional "nonroot" user; the chart's podSecurityContext uses the same ids.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/tidemark-operator"]
CMD ["run"]
