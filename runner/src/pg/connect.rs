//! Resolving the database connection from libpq environment variables (or the secret
//! `TIDEMARK_DATABASE_URL`), connecting with tokio-postgres, and handing the same
//! settings to `pg_dump` through its environment — never through argv, which is
//! visible in /proc and in Pod specs.

use std::path::PathBuf;
use std::time::Duration;
use tidemark_crd::contract::env as var;

use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::{Client, Config, NoTls};

pub use tidemark_crd::common::SslMode;

use crate::error::{Error, Result};
use crate::pg::tls;

/// Environment variable with a full `postgres://` URI (a secret: it may hold a password).
pub const DATABASE_URL_ENV: &str = var::DATABASE_URL;
/// libpq's password variable (a secret).
pub const PASSWORD_ENV: &str = var::PG_PASSWORD;

/// Parses libpq's `sslmode` spelling.
fn parse_sslmode(s: &str) -> Result<SslMode> {
    SslMode::from_libpq(s).ok_or_else(|| {
        Error::config(format!(
            "PGSSLMODE `{s}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
        ))
    })
}

/// The non-secret connection settings of the command line (libpq names); the
/// password and a full URI come from the environment only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbSettings {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub user: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<PathBuf>,
}

/// A resolved database target.
#[derive(Clone)]
pub struct DbTarget {
    config: Config,
    sslmode: SslMode,
    sslrootcert: Option<PathBuf>,
}

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl DbTarget {
    /// Resolves the target from `TIDEMARK_DATABASE_URL` if set, else from the libpq
    /// variables (flags override them). The password is read from the environment only.
    pub fn resolve(args: &DbSettings) -> Result<Self> {
        let url = std::env::var(DATABASE_URL_ENV)
            .ok()
            .filter(|s| !s.is_empty());
        let password = std::env::var(PASSWORD_ENV).ok().filter(|s| !s.is_empty());
        let mut sslmode = args.sslmode.as_deref().map(parse_sslmode).transpose()?;
        let mut sslrootcert = args.sslrootcert.clone();
        let mut config = match url {
            Some(url) => {
                let (rest, query_mode, query_root) = split_ssl_params(&encode_userinfo(&url));
                sslmode = query_mode
                    .as_deref()
                    .map(parse_sslmode)
                    .transpose()?
                    .or(sslmode);
                sslrootcert = query_root.map(PathBuf::from).or(sslrootcert);
                // The parser's message could echo parts of the URI: keep it out.
                rest.parse::<Config>().map_err(|_| {
                    Error::config(format!(
                        "{DATABASE_URL_ENV} is not a valid postgres:// URI (value not shown)"
                    ))
                })?
            }
            None => {
                let mut c = Config::new();
                let user = args.user.clone().unwrap_or_else(|| "postgres".to_string());
                c.host(args.host.as_deref().unwrap_or("localhost"));
                c.port(args.port.unwrap_or(5432));
                c.dbname(args.database.as_deref().unwrap_or(&user));
                c.user(&user);
                c
            }
        };
        if config.get_password().is_none()
            && let Some(p) = password
        {
            config.password(p);
        }
        if config.get_user().is_none() {
            config.user(args.user.as_deref().unwrap_or("postgres"));
        }
        config.application_name("tidemark-runner");
        config.connect_timeout(Duration::from_secs(30));
        let sslmode = sslmode.unwrap_or(SslMode::Prefer);
        config.ssl_mode(match sslmode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
        if matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) && sslrootcert.is_none() {
            return Err(Error::config(format!(
                "PGSSLMODE={} needs PGSSLROOTCERT (a PEM file with the server's CA)",
                sslmode.as_libpq()
            )));
        }
        Ok(Self {
            config,
            sslmode,
            sslrootcert,
        })
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, name: &str) -> DbTarget {
        let mut other = self.clone();
        other.config.dbname(name);
        other
    }

    /// Database name (defaults to the user name, like libpq).
    pub fn database(&self) -> String {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
            .to_string()
    }

    /// `user@host:port/db` without any password, for messages.
    pub fn describe(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(host_string)
            .unwrap_or_default();
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{host}:{port}/{}",
            self.config.get_user().unwrap_or(""),
            self.database()
        )
    }

    /// Connects; the connection is driven by a spawned task until the client drops.
    pub async fn connect(&self) -> Result<Client> {
        let target = self.describe();
        let classify = |e: tokio_postgres::Error| classify_error(&target, "connecting", e);
        if self.sslmode == SslMode::Disable {
            let (client, conn) = self.config.connect(NoTls).await.map_err(classify)?;
            spawn_connection(conn);
            Ok(client)
        } else {
            let connector = tls::make_connector(self.sslmode, self.sslrootcert.as_deref())?;
            let (client, conn) = self.config.connect(connector).await.map_err(classify)?;
            spawn_connection(conn);
            Ok(client)
        }
    }

    /// libpq environment for a child (`pg_dump`): every connection setting, including
    /// the password, goes through the environment, never argv.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        let hosts: Vec<String> = self.config.get_hosts().iter().map(host_string).collect();
        if !hosts.is_empty() {
            env.push(("PGHOST", hosts.join(",")));
        }
        let ports: Vec<String> = self.config.get_ports().iter().map(u16::to_string).collect();
        if !ports.is_empty() {
            env.push(("PGPORT", ports.join(",")));
        }
        if let Some(u) = self.config.get_user() {
            env.push(("PGUSER", u.to_string()));
        }
        if let Some(p) = self.config.get_password() {
            env.push(("PGPASSWORD", String::from_utf8_lossy(p).into_owned()));
        }
        env.push(("PGDATABASE", self.database()));
        env.push(("PGSSLMODE", self.sslmode.as_libpq().to_string()));
        if let Some(root) = &self.sslrootcert {
            env.push(("PGSSLROOTCERT", root.display().to_string()));
        }
        env.push(("PGAPPNAME", "tidemark-runner pg_dump".to_string()));
        env.push(("PGCONNECT_TIMEOUT", "30".to_string()));
        env
    }
}

fn host_string(h: &Host) -> String {
    match h {
        Host::Tcp(s) => s.clone(),
        Host::Unix(p) => p.display().to_string(),
    }
}

fn spawn_connection<S, T>(conn: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "PostgreSQL connection ended with an error");
        }
    });
}

/// Turns a tokio-postgres error into a runner error; authentication and missing
/// databases are configuration errors. Server messages never contain the password.
pub fn classify_error(target: &str, doing: &str, e: tokio_postgres::Error) -> Error {
    let context = format!("{doing} {target}");
    if let Some(db) = e.as_db_error() {
        let message = format!("{} ({})", db.message(), db.code().code());
        let code = db.code().code();
        // 28xxx: invalid authorization; 3D000: database does not exist.
        if code.starts_with("28") || code == "3D000" {
            return Error::PostgresAuth { context, message };
        }
        return Error::Postgres { context, message };
    }
    let mut message = e.to_string();
    // tokio-postgres's configuration errors (a password the server asks for is not
    // set, …) are fixed by configuration, not by retrying.
    let configuration = message.starts_with("invalid configuration");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if configuration {
        return Error::PostgresAuth { context, message };
    }
    Error::Postgres { context, message }
}

/// Percent-encodes `@`, `/` and `#` inside the user-info part of a URI (everything
/// before the last `@` ahead of the query), so a password containing them is read as a
/// password and never taken for (and shown as) a host or database name.
fn encode_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let head = &rest[..rest.find('?').unwrap_or(rest.len())];
    let Some(at) = head.rfind('@') else {
        return url.to_string();
    };
    let userinfo = rest[..at]
        .replace('@', "%40")
        .replace('/', "%2F")
        .replace('#', "%23");
    format!("{}{userinfo}{}", &url[..scheme_end], &rest[at..])
}

/// Removes `sslmode` and `sslrootcert` from a URI's query (tokio-postgres knows only
/// some sslmodes) and returns them separately.
fn split_ssl_params(url: &str) -> (String, Option<String>, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None, None);
    };
    let mut mode = None;
    let mut root = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.to_string()),
            Some(("sslrootcert", v)) => root = Some(v.to_string()),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, mode, root)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ssl_parameters_are_taken_out_of_the_uri() {
        let (rest, mode, root) =
            split_ssl_params("postgres://u:p@h:5/db?sslmode=verify-full&connect_timeout=3");
        assert_eq!(rest, "postgres://u:p@h:5/db?connect_timeout=3");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root, None);
        let (rest, _, root) = split_ssl_params("postgres://h/db?sslrootcert=/ca.pem");
        assert_eq!(rest, "postgres://h/db");
        assert_eq!(root.as_deref(), Some("/ca.pem"));
    }

    #[test]
    fn a_password_with_at_signs_stays_a_password() {
        let url = encode_userinfo("postgres://app:p@ss/w#rd@db.example:5433/shop?sslmode=require");
        assert_eq!(
            url,
            "postgres://app:p%40ss%2Fw%23rd@db.example:5433/shop?sslmode=require"
        );
        let config: Config = split_ssl_params(&url).0.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"p@ss/w#rd"[..]));
        assert_eq!(config.get_dbname(), Some("shop"));
        assert!(matches!(&config.get_hosts()[0], Host::Tcp(h) if h == "db.example"));
        assert_eq!(encode_userinfo("postgres://h/db"), "postgres://h/db");
        assert_eq!(encode_userinfo("host=h"), "host=h");
    }

    #[test]
    fn unknown_sslmode_is_a_config_error() {
        assert!(parse_sslmode("sometimes").is_err());
        assert_eq!(parse_sslmode("verify-ca").ok(), Some(SslMode::VerifyCa));
    }
}
