//! The byte stream from `pg_dump` to upload parts: compression, encryption, hashing,
//! part cutting with back-pressure.

pub mod part_size;
pub mod sink;
pub mod small;
pub mod stages;
pub mod stream;

#[cfg(test)]
mod tests;
