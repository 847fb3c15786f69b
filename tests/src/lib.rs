pub mod placeholder {}
pub mod standin;
