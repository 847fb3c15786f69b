//! From parsed arguments to the validated settings each subcommand runs on: the only
//! place where clap's structs meet the rest of the runner.

use crate::backup::settings::{self as backup, DumpOptions, UploadOptions};
use crate::error::Result;
use crate::inventory::PolicyRef;
use crate::pg::connect::DbSettings;
use crate::restore::settings as restore;
use crate::s3::commit;
use crate::s3::settings::S3Settings;
use crate::{list, prune, restore_test, verify};

use super::{
    BackupArgs, DbArgs, ListArgs, ListOutput, PolicyArgs, PruneArgs, RestoreArgs, RestoreOptions,
    RestoreTestArgs, S3Args, S3ObjectArgs, Sha256Stamp, VerifyArgs,
};
use crate::s3::sdk::MAX_SINGLE_COPY;
use tidemark_crd::contract::values::{RestoreContent, SseAlgorithm};

impl PolicyArgs {
    fn policy(&self) -> PolicyRef {
        PolicyRef {
            namespace: self.policy_namespace.clone(),
            name: self.policy_name.clone(),
        }
    }
}

impl S3Args {
    /// The settings of a subcommand that only reads, lists and deletes: it writes no
    /// object, so no storage settings apply (no SSE header, the bucket's class).
    fn settings(&self) -> S3Settings {
        self.writing(None)
    }

    /// The settings of `backup`, which writes objects stored as `objects` says.
    fn writing(&self, objects: Option<&S3ObjectArgs>) -> S3Settings {
        S3Settings {
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            force_path_style: self.force_path_style,
            ca_bundle: self.ca_bundle.clone(),
            sse: objects.map_or(SseAlgorithm::None, |o| o.sse),
            sse_kms_key_id: objects.and_then(|o| o.sse_kms_key_id.clone()),
            storage_class: objects.and_then(|o| o.storage_class.clone()),
            single_copy_max: objects.map_or(MAX_SINGLE_COPY, |o| o.single_copy_max.0),
            connect_timeout: self.connect_timeout.0,
            read_timeout: self.read_timeout.0,
            max_attempts: self.max_attempts,
        }
    }
}

impl DbArgs {
    fn settings(&self) -> DbSettings {
        DbSettings {
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            user: self.user.clone(),
            sslmode: self.sslmode.clone(),
            sslrootcert: self.sslrootcert.clone(),
        }
    }
}

impl BackupArgs {
    /// The validated settings of `backup`.
    pub fn settings(&self) -> Result<backup::Settings> {
        let d = &self.dump;
        let u = &self.upload;
        backup::Settings::new(backup::Request {
            policy: self.policy.policy(),
            s3: self.s3.writing(Some(&self.s3_objects)),
            db: self.db.settings(),
            pg_bin_root: self.db.pg_bin_root.clone(),
            dump: DumpOptions {
                format: d.dump_format,
                compression: d.compression,
                compression_level: d.compression_level,
                compression_threads: d.compression_threads,
                include_schemas: d.include_schemas.clone(),
                exclude_schemas: d.exclude_schemas.clone(),
                include_tables: d.include_tables.clone(),
                exclude_tables: d.exclude_tables.clone(),
                row_count_mode: d.row_count_mode,
            },
            upload: UploadOptions {
                part_size: u.part_size.0,
                parts_in_flight: u.parts_in_flight,
                sha256_stamp: match u.sha256_stamp {
                    Sha256Stamp::Tag => commit::Sha256Stamp::Tag,
                    Sha256Stamp::Copy => commit::Sha256Stamp::Copy,
                },
            },
            age_recipients: self.age_recipients.clone(),
            databases: backup::Databases::new(
                &self.databases.names,
                self.databases.all,
                &self.databases.exclude,
                self.db.database.as_deref(),
            )?,
        })
    }
}

impl VerifyArgs {
    /// The settings of `verify`.
    pub fn settings(&self) -> Result<verify::Settings> {
        Ok(verify::Settings {
            selector: self.selector.selector()?,
            database: self.selector.database(),
            policy: self.policy.policy(),
            s3: self.s3.settings(),
            min_size: self.min_size,
            max_age: self.max_age.0,
            max_shrink_percent: self.max_shrink_percent,
        })
    }
}

impl ListArgs {
    /// The settings of `list`.
    pub fn settings(&self) -> Result<list::Settings> {
        Ok(list::Settings {
            selector: self.selector.selector()?,
            database: self.selector.database(),
            all_databases: self.all_databases,
            tz: self.retention.tz()?,
            policy: self.policy.policy(),
            s3: self.s3.settings(),
            retention: self.retention.policy(),
            output: match self.output {
                ListOutput::Table => list::Output::Table,
                ListOutput::Json => list::Output::Json,
            },
        })
    }
}

impl PruneArgs {
    /// The settings of `prune`.
    pub fn settings(&self) -> Result<prune::Settings> {
        Ok(prune::Settings {
            tz: self.retention.tz()?,
            policy: self.policy.policy(),
            s3: self.s3.settings(),
            retention: self.retention.policy(),
            orphan_grace_period: self.orphan_grace_period.0,
            dry_run: self.dry_run,
            all: self.all,
        })
    }
}

impl RestoreOptions {
    fn options(&self) -> restore::RestoreOptions {
        restore::RestoreOptions {
            content: self.content,
            tables: self.tables.clone(),
            clean: self.clean,
            no_clean: self.no_clean,
            truncate: self.truncate,
            create_database: self.create_database,
            maintenance_database: self.maintenance_database.clone(),
            no_owner: self.no_owner,
            no_privileges: self.no_privileges,
            parallelism: self.parallelism,
            spool_dir: self.spool_dir.clone(),
            roles: self.roles,
        }
    }
}

impl RestoreArgs {
    /// The settings of `restore`. A preflight selects nothing (its selector is not
    /// read), except for a data-only restore, whose tables come from the backup.
    pub fn settings(&self) -> Result<restore::Settings> {
        let options = self.options.options();
        let selector = if self.preflight && options.content != RestoreContent::DataOnly {
            crate::inventory::Selector::Latest
        } else {
            self.selector.selector()?
        };
        Ok(restore::Settings {
            policy: self.policy.policy(),
            s3: self.s3.settings(),
            db: self.db.settings(),
            pg_bin_root: self.db.pg_bin_root.clone(),
            selector,
            database: self.selector.database(),
            options,
            preflight: self.preflight,
            all_databases: self.all_databases,
        })
    }
}

impl RestoreTestArgs {
    /// The settings of `restore-test`.
    pub fn settings(&self) -> Result<restore_test::Settings> {
        Ok(restore_test::Settings {
            selector: self.selector.selector()?,
            database: self.selector.database(),
            policy: self.policy.policy(),
            s3: self.s3.settings(),
            db: self.db.settings(),
            pg_bin_root: self.db.pg_bin_root.clone(),
            target: self.target,
            wait_for_server: self.wait_for_server,
            scratch_database_prefix: self.scratch_database_prefix.clone(),
            parallelism: self.parallelism,
            spool_dir: self.spool_dir.clone(),
        })
    }
}
