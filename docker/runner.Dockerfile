# The Tidemark runner image: the runner binary (static) plus pg_dump, pg_restore and psql of
# every supported PostgreSQL major (13–18) from the PostgreSQL project's own Debian
# repository (PGDG). The runner asks the server for server_version_num and runs
# /usr/lib/postgresql/<major>/bin/pg_dump of the same major (TIDEMARK_PG_BIN_ROOT).
#
#   scripts/build-static
#   docker build -f docker/runner.Dockerfile -t tidemark-runner:0.1.0 .

FROM debian:12-slim
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
COPY target/x86_64-unknown-linux-gnu/release/tidemark-runner /usr/local/bin/tidemark-runner
ENV TIDEMARK_PG_BIN_ROOT=/usr/lib/postgresql
# The operator's Jobs run with readOnlyRootFilesystem and an emptyDir at /tmp.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/tidemark-runner"]
