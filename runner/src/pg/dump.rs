//! What `pg_dump` is started with: its arguments from the settings (no connection
//! setting, no secret) and its libpq environment. It runs as a
//! [`ToolProcess`](crate::pg::child::ToolProcess) like every client tool, its stdout
//! handed to the stream thread.

use std::path::PathBuf;

use tidemark_crd::contract::values::DumpFormat;

use crate::pg::child::{Tool, ToolSpec};

/// Everything needed to start `pg_dump`.
#[derive(Clone, Debug)]
pub struct DumpSpec {
    pub binary: PathBuf,
    pub format: DumpFormat,
    pub snapshot: String,
    pub include_schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    pub include_tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    /// libpq variables (connection, password) for the child's environment.
    pub env: Vec<(&'static str, String)>,
}

impl DumpSpec {
    /// The argument list: no connection settings, no secrets.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            match self.format {
                DumpFormat::Custom => "--format=custom".to_string(),
                DumpFormat::Plain => "--format=plain".to_string(),
            },
            format!("--snapshot={}", self.snapshot),
            "--no-password".to_string(),
        ];
        if self.format == DumpFormat::Custom {
            // The stream is compressed by the runner; pg_dump's own zlib would be slower.
            args.push("--compress=0".to_string());
        }
        let mut add = |flag: &str, values: &[String]| {
            for v in values.iter().filter(|v| !v.trim().is_empty()) {
                args.push(format!("{flag}={}", v.trim()));
            }
        };
        add("--schema", &self.include_schemas);
        add("--exclude-schema", &self.exclude_schemas);
        add("--table", &self.include_tables);
        add("--exclude-table", &self.exclude_tables);
        args
    }

    /// The child process: stdout piped to the runner, no stdin.
    pub fn tool(&self) -> ToolSpec {
        ToolSpec {
            tool: Tool::PgDump,
            binary: self.binary.clone(),
            args: self.args(),
            env: self.env.clone(),
            stdin: false,
            capture_stdout: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_never_carry_connection_settings() {
        let spec = DumpSpec {
            binary: "/x/pg_dump".into(),
            format: DumpFormat::Custom,
            snapshot: "00000003-0000001B-1".into(),
            include_schemas: vec!["shop".into()],
            exclude_schemas: vec![],
            include_tables: vec![],
            exclude_tables: vec!["shop.tmp_*".into(), " ".into()],
            env: vec![("PGPASSWORD", "hunter2".into())],
        };
        let args = spec.args();
        assert_eq!(
            args,
            vec![
                "--format=custom",
                "--snapshot=00000003-0000001B-1",
                "--no-password",
                "--compress=0",
                "--schema=shop",
                "--exclude-table=shop.tmp_*",
            ]
        );
        assert!(!args.iter().any(|a| a.contains("hunter2")));
    }
}
