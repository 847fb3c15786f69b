//! S3: the storage boundary ([`store::ObjectStore`]) and its AWS SDK implementation
//! ([`sdk`], the only code that names the SDK besides client construction and error
//! classification), object options, the multipart upload and the commit steps.

pub mod client;
pub mod commit;
pub mod download;
pub mod errors;
pub mod listing;
#[cfg(test)]
pub mod memory;
pub mod object;
pub mod sdk;
pub mod settings;
pub mod store;
pub mod upload;
