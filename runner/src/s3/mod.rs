//! S3: client construction, object options, the multipart upload and the commit steps.

pub mod client;
pub mod commit;
pub mod download;
pub mod errors;
pub mod listing;
pub mod object;
pub mod upload;
