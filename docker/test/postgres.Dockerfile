# A PostgreSQL image for the tests only (scripts/build-images): the stand-in's executor runs
# the restore test's ephemeral-server sidecar from it. It behaves like the official
# `postgres` image as far as Tidemark uses it: the entrypoint initialises $PGDATA when it is
# empty (POSTGRES_USER, POSTGRES_HOST_AUTH_METHOD), then runs `postgres "$@"`, as any UID
# (nss_wrapper supplies the passwd entry, as in the official image), with only $PGDATA,
# /var/run/postgresql and /tmp writable. The server is Debian's PostgreSQL 15.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 libnss-wrapper \
 && rm -rf /var/lib/apt/lists/* /var/lib/postgresql/15 /etc/postgresql/15
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
USER 999:999
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
