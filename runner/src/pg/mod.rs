//! PostgreSQL: connection settings, TLS, the snapshot transaction and row counts,
//! table filters, the globals (roles, database settings), choosing and running `pg_dump`.

pub mod archive_rows;
pub mod archive_toc;
pub mod archive_walk;
pub mod binary;
pub mod child;
pub mod connect;
pub mod dump;
pub mod env;
pub mod filter;
pub mod globals;
pub mod snapshot;
pub mod tls;
