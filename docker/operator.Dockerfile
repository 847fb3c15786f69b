# The Tidemark operator image: one statically linked binary on an empty base, non-root.
#
# Build the binary first (static glibc, checked with `file` and `ldd`), then the image,
# from the repository root:
#   scripts/build-static
#   docker build -f docker/operator.Dockerfile -t tidemark-operator:0.1.0 .
#
# The binary reaches the API server with the in-cluster service-account CA; the CA bundle
# copied below is for HTTPS webhook notifications only.

FROM debian:12-slim AS certs
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

FROM scratch
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY target/x86_64-unknown-linux-gnu/release/tidemark-operator /tidemark-operator
# 65532: the conventional "nonroot" user; the chart's podSecurityContext uses the same ids.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/tidemark-operator"]
CMD ["run"]
