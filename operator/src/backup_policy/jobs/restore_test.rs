//! The restore-test Job (`tidemark-runner restore-test`): restores the newest backup of
//! the policy into a scratch database and compares row counts with its manifest.
//!
//! Two targets (`spec.restoreTest.target`):
//! - `ephemeral` (default): the pod carries a throwaway PostgreSQL server as a *native
//!   sidecar* — an init container with `restartPolicy: Always` — so it starts before the
//!   runner, is ready (startup probe: `pg_isready`) before the runner starts, and is
//!   stopped by the kubelet when the runner ends, which then completes the Job.
//!   The runner connects to `localhost:5432` as `postgres`.
//! - `existing`: no sidecar; the runner connects with the given connection (Secret
//!   references only) and restores into a temporary database that it drops afterwards.
//!
//! Authentication of the ephemeral server (decision): **no password at all**.
//! `POSTGRES_HOST_AUTH_METHOD=trust` with the server listening on `localhost` only
//! (`-c listen_addresses=localhost`). A pod's loopback interface is reachable only from
//! containers of the same pod, so nothing outside the pod can connect, and there is no
//! generated password that could leak into the spec, arguments or logs. The server holds
//! only the restored copy for the duration of the test and is discarded with the pod.
//!
//! Hardening: the sidecar has the same restricted security context as the runner
//! (non-root UID 65532, read-only root filesystem, all capabilities dropped,
//! RuntimeDefault seccomp from the pod). The official `postgres` image runs as an
//! arbitrary UID (its entrypoint uses nss_wrapper) when these are writable, each an
//! emptyDir: the data directory (`PGDATA` below its mount, so initdb can create it with
//! mode 0700), the socket directory `/var/run/postgresql`, and `/tmp`.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, ExecAction, Probe, Volume, VolumeMount,
};
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::EphemeralServer;
use tidemark_crd::contract::env as var;
use tidemark_crd::contract::values::ScratchTarget;

use super::{Trigger, owner, policy_env, runner_image, storage_mounts, trigger_parts};
use crate::naming::RunKind;
use crate::runtime::job::builder::{RunnerJob, build, sidecar_security};
use crate::runtime::job::env::{self, value};
use crate::runtime::job::spool;
use crate::runtime::job::volumes::{DB_CA_PATH, scratch, secret_file};
use crate::runtime::job::{BuildError, JobDefaults, parent};

/// Name of the PostgreSQL sidecar container.
pub const POSTGRES_SIDECAR: &str = "postgres";
/// Port of the ephemeral server inside the pod.
pub const POSTGRES_PORT: i32 = 5432;
/// Superuser of the ephemeral server (the official image's default).
pub const POSTGRES_USER: &str = "postgres";
/// Mount point of the sidecar's data emptyDir; `PGDATA` is a directory below it.
pub const POSTGRES_DATA_MOUNT: &str = "/var/lib/postgresql/data";
/// The server's data directory (created by initdb inside the emptyDir).
pub const POSTGRES_PGDATA: &str = "/var/lib/postgresql/data/pgdata";
/// The server's Unix socket directory.
pub const POSTGRES_SOCKET_DIR: &str = "/var/run/postgresql";

/// `pg_isready` against the sidecar over TCP, as a probe. The official entrypoint first
/// runs a socket-only server for initialisation, so TCP answers only from the real one.
fn ready_probe(period: i32, failures: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec![
                "pg_isready".to_string(),
                "--host=localhost".to_string(),
                format!("--port={POSTGRES_PORT}"),
                format!("--username={POSTGRES_USER}"),
            ]),
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(5),
        ..Probe::default()
    }
}

/// The ephemeral server container and the volumes it writes to.
pub fn postgres_sidecar(server: &EphemeralServer) -> (Container, Vec<(Volume, VolumeMount)>) {
    let (data_volume, data_mount) = {
        let (mut v, m) = scratch("pg-data", POSTGRES_DATA_MOUNT, "1Gi");
        // The restored database can be any size: no size limit on its data.
        if let Some(dir) = v.empty_dir.as_mut() {
            dir.size_limit = None;
        }
        (v, m)
    };
    let volumes = vec![
        (data_volume, data_mount),
        scratch("pg-run", POSTGRES_SOCKET_DIR, "16Mi"),
        scratch("pg-tmp", "/tmp", "64Mi"),
    ];
    let env: Vec<EnvVar> = vec![
        value("POSTGRES_HOST_AUTH_METHOD", "trust"),
        value("POSTGRES_USER", POSTGRES_USER),
        value("PGDATA", POSTGRES_PGDATA),
        value("PGPORT", POSTGRES_PORT.to_string()),
    ];
    let container = Container {
        name: POSTGRES_SIDECAR.to_string(),
        image: Some(server.image.clone()),
        // Native sidecar: started before the runner, stopped after it.
        restart_policy: Some("Always".to_string()),
        args: Some(
            [
                "-c",
                "listen_addresses=localhost",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
            ]
            .map(String::from)
            .to_vec(),
        ),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some("postgres".to_string()),
            container_port: POSTGRES_PORT,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        startup_probe: Some(ready_probe(1, 300)),
        readiness_probe: Some(ready_probe(5, 3)),
        security_context: Some(sidecar_security()),
        volume_mounts: Some(volumes.iter().map(|(_, m)| m.clone()).collect()),
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        ..Container::default()
    };
    (container, volumes)
}

/// The restore-test Job for one trigger. Fails with [`BuildError::NotConfigured`] when
/// the policy has no enabled `spec.restoreTest`.
pub fn restore_test_job(
    policy: &BackupPolicy,
    name: String,
    trigger: &Trigger,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(policy)?;
    let spec = &policy.spec;
    let test = spec
        .restore_test
        .as_ref()
        .filter(|t| t.enabled)
        .ok_or(BuildError::NotConfigured("spec.restoreTest"))?;
    let mut env = policy_env(policy, &ns);
    if let Some(identity) = &test.decryption_identity_secret_ref {
        env.push(env::secret(var::AGE_IDENTITY, identity));
    }
    let mut mounts = storage_mounts(policy);
    let effective = defaults.pod.apply(&spec.job_template);
    let parallelism = spool::parallelism(test.parallelism, effective.resources.as_ref());
    let (spool_env, spool_mounts) =
        spool::settings(parallelism, true, test.spool_size_limit.as_deref());
    env.extend(spool_env);
    mounts.extend(spool_mounts);
    let mut sidecars = Vec::new();
    let mut sidecar_volumes: Vec<Volume> = Vec::new();
    match (&test.target.existing, &test.target.ephemeral) {
        (Some(existing), _) => {
            env.push(value(
                var::RESTORE_TEST_TARGET,
                ScratchTarget::Existing.env_value(),
            ));
            env.extend(env::database(existing));
            if let Some(ca) = &existing.ca_secret_ref {
                mounts.push(secret_file("db-ca", parent(DB_CA_PATH), ca));
            }
        }
        (None, ephemeral) => {
            let server = ephemeral.clone().unwrap_or_default();
            env.push(value(
                var::RESTORE_TEST_TARGET,
                ScratchTarget::Ephemeral.env_value(),
            ));
            env.extend([
                value(var::PG_HOST, "localhost"),
                value(var::PG_PORT, POSTGRES_PORT.to_string()),
                value(var::PG_USER, POSTGRES_USER),
                value(var::PG_DATABASE, POSTGRES_USER),
                value(var::PG_SSLMODE, "disable"),
            ]);
            let (container, volumes) = postgres_sidecar(&server);
            sidecars.push(container);
            sidecar_volumes = volumes.into_iter().map(|(v, _)| v).collect();
        }
    }
    let (scheduled, run_now) = trigger_parts(trigger);
    let mut job = build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind: RunKind::RestoreTest,
        image: runner_image(policy, defaults),
        args: vec!["restore-test".to_string()],
        env,
        mounts,
        template: &spec.job_template,
        pod_defaults: &defaults.pod,
        deadline_seconds: test.deadline_seconds,
        scheduled,
        run_now,
        sidecars,
    });
    // The sidecar's volumes belong to the pod; the runner does not mount them.
    if let Some(pod) = job.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        pod.volumes
            .get_or_insert_with(Vec::new)
            .extend(sidecar_volumes);
    }
    Ok(job)
}
