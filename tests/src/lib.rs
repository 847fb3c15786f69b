pub mod postgres;
pub mod runner;
pub mod s3;
pub mod standin;
pub mod tools;
