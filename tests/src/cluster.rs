//! The whole local cluster for end-to-end tests and the demo: a real PostgreSQL with a
//! seeded webshop database, SeaweedFS with a bucket, the Kubernetes API stand-in with
//! the CRDs, a namespace and the credential Secrets, the Job executor running the real
//! `tidemark-runner` for the runner image, and N `tidemark-operator run` processes.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use tidemark_testkit::cluster::{Cluster, ClusterOptions};
//! let cluster = Cluster::start(ClusterOptions::new("doc-example")).await?;
//! cluster.apply_json(&cluster.policy("webshop")).await?;
//! cluster.run_now("webshop", "first").await?;
//! let policy = cluster
//!     .wait_for_policy("webshop", Duration::from_secs(60), |p| {
//!         p.status.as_ref().is_some_and(|s| s.last_backup.is_some())
//!     })
//!     .await?;
//! # drop(policy); Ok(()) }
//! ```
//!
//! How Jobs reach the servers: every server listens on 127.0.0.1, and the executor runs
//! Jobs as local processes, so the policies and requests built by [`Cluster::policy`]
//! and [`Cluster::restore_request`] simply name `127.0.0.1:<port>` (database host and
//! port, S3 endpoint). The runner image [`RUNNER_IMAGE`] is mapped to the built
//! `tidemark-runner` (see [`crate::binaries`] for how binaries are found); images whose
//! name contains `postgres` in a sidecar become throwaway local PostgreSQL servers.
//!
//! Logs: everything goes to `target/tidemark-e2e/<name>/` (operator logs as they are
//! written; the stand-in's, the executor's and each pod's logs are copied there when
//! the cluster is dropped). The path is printed at start (shown by the test harness
//! for failed tests) and again when the cluster is dropped during a panic.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::discovery::Scope;
use serde_json::{Value, json};
use tidemark_crd::contract::keys::{manifest_key, policy_prefix};
use tidemark_crd::contract::manifest::Manifest;
use tidemark_crd::{BackupPolicy, RestoreRequest};

use crate::operator::{LeaderElection, OperatorContainer, OperatorProcess, OperatorSettings, tail};
use crate::postgres::{self, TestPostgres};
use crate::s3::{self, S3Server};
use crate::standin::{Executor, ExecutorOptions, Standin};
use crate::{binaries, images, tools, webshop};

/// The default runner image of the operators; the executor runs `tidemark-runner` for it.
pub const RUNNER_IMAGE: &str = "tidemark/runner:test";
/// The bucket created in SeaweedFS.
pub const BUCKET: &str = "tidemark-e2e";
/// The key prefix of the policies built by [`Cluster::policy`].
pub const PREFIX: &str = "tidemark";
/// The seeded database.
pub const DATABASE: &str = "webshop";
/// Secret with `username` and `password` of the database.
pub const DB_SECRET: &str = "webshop-db";
/// Secret with `access-key-id` and `secret-access-key` of the bucket.
pub const S3_SECRET: &str = "webshop-s3";
/// Secret with `recipients` (the age public key), when [`ClusterOptions::age`].
pub const RECIPIENTS_SECRET: &str = "webshop-backup-recipients";
/// Secret with `identity` (the age private key), when [`ClusterOptions::age`].
pub const IDENTITY_SECRET: &str = "webshop-backup-identity";
/// Field manager of the objects the tests apply.
pub const FIELD_MANAGER: &str = "tidemark-e2e";

/// What to start.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Names the log directory (`target/tidemark-e2e/<name>/`); use the test's name.
    pub name: String,
    /// Namespace created for the test's objects.
    pub namespace: String,
    /// How many operator processes to start (0: none; start them with
    /// [`Cluster::start_operator`]).
    pub operators: usize,
    /// Run the operators with `--leader-election`.
    pub leader_election: bool,
    /// Orders in the seeded webshop database (users are a quarter of it).
    pub orders: u32,
    /// Create an age key pair and the recipients/identity Secrets; [`Cluster::policy`]
    /// then encrypts and [`Cluster::restore_request`] decrypts.
    pub age: bool,
    /// Extra arguments for every operator.
    pub operator_args: Vec<String>,
    /// Run Jobs as real containers of the images `scripts/build-images` builds (the runner
    /// image for [`RUNNER_IMAGE`], the test PostgreSQL image for `postgres` sidecars and
    /// for the post-restore step's image `webshop/backend`) instead of local processes.
    pub containers: bool,
    /// Run the operators as containers of this image, with these extra `/etc/hosts` names.
    pub operator_container: Option<OperatorContainer>,
    /// Give process-run runners every PostgreSQL major of `scripts/pg-majors.sh` (as the
    /// runner image ships 13–18): `TIDEMARK_PG_BIN_ROOT` set the way the image's ENV would.
    pub pg_majors: bool,
}

impl ClusterOptions {
    /// One operator, no leader election, 2,000 orders, no encryption, namespace `webshop`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            namespace: "webshop".to_string(),
            operators: 1,
            leader_election: false,
            orders: 2_000,
            age: false,
            operator_args: Vec::new(),
            containers: false,
            operator_container: None,
            pg_majors: false,
        }
    }

    /// Runners see every installed PostgreSQL major (see [`ClusterOptions::pg_majors`]).
    pub fn pg_majors(mut self) -> Self {
        self.pg_majors = true;
        self
    }

    /// Runs every Job's pod as real containers (see [`ClusterOptions::containers`]).
    pub fn containers(mut self) -> Self {
        self.containers = true;
        self
    }

    /// Runs the operators as containers of `image` that resolve `hosts` (name, IP).
    pub fn operator_container(mut self, image: &str, hosts: &[(&str, &str)]) -> Self {
        self.operator_container = Some(OperatorContainer {
            image: image.to_string(),
            hosts: hosts
                .iter()
                .map(|(h, ip)| (h.to_string(), ip.to_string()))
                .collect(),
        });
        self
    }

    /// Sets the number of operator processes.
    pub fn operators(mut self, n: usize) -> Self {
        self.operators = n;
        self
    }

    /// Turns leader election on or off.
    pub fn leader_election(mut self, on: bool) -> Self {
        self.leader_election = on;
        self
    }

    /// Turns age encryption on.
    pub fn age(mut self) -> Self {
        self.age = true;
        self
    }

    /// Sets the number of seeded orders.
    pub fn orders(mut self, n: u32) -> Self {
        self.orders = n;
        self
    }
}

/// An age key pair.
#[derive(Clone, Debug)]
pub struct AgeKeys {
    /// `age1…`.
    pub recipient: String,
    /// `AGE-SECRET-KEY-1…`.
    pub identity: String,
}

/// A running local cluster; everything stops when it is dropped.
pub struct Cluster {
    // Drop order matters: operators, then the executor (it kills running pods), then
    // the API server, then the data servers.
    operators: Vec<OperatorProcess>,
    executor: Option<Executor>,
    standin: Standin,
    s3: S3Server,
    pg: TestPostgres,
    client: kube::Client,
    options: ClusterOptions,
    logs: PathBuf,
    age: Option<AgeKeys>,
    operator_binary: PathBuf,
}

impl Cluster {
    /// Starts everything, seeds the database, installs CRDs, namespace and Secrets, and
    /// starts the executor and `options.operators` operators.
    pub async fn start(options: ClusterOptions) -> Result<Cluster> {
        let operator_binary = binaries::operator()?;
        let runner_binary = binaries::runner()?;
        let logs = log_dir(&options.name)?;
        eprintln!(
            "tidemark e2e `{}`: logs in {}",
            options.name,
            logs.display()
        );

        let pg = TestPostgres::start().context("starting PostgreSQL")?;
        pg.create_database(DATABASE)?;
        webshop::seed(&pg, DATABASE, options.orders).context("seeding the webshop database")?;
        let s3 = S3Server::seaweedfs().context("starting SeaweedFS")?;
        s3.create_bucket(BUCKET).await?;
        let standin = Standin::start().context("starting the API stand-in")?;
        std::fs::write(
            logs.join("paths.txt"),
            format!(
                "stand-in {} (dir {})\npostgres 127.0.0.1:{} (dir {})\ns3 {} (dir {})\n",
                standin.url(),
                standin.dir().display(),
                pg.port(),
                pg.dir().display(),
                s3.endpoint,
                s3.dir().display()
            ),
        )?;
        std::fs::copy(standin.kubeconfig_path(), logs.join("kubeconfig"))?;
        let client = standin.client()?;
        let executor_options = if options.containers {
            images::require(&[images::RUNNER_IMAGE, images::POSTGRES_IMAGE])?;
            ExecutorOptions {
                // No binary for the runner image: its pods can only run as containers.
                runner_paths: Vec::new(),
                default_binary: None,
                pg_bin: None,
                image_env: Vec::new(),
                container_images: vec![
                    (RUNNER_IMAGE.to_string(), images::RUNNER_IMAGE.to_string()),
                    ("*postgres*".to_string(), images::POSTGRES_IMAGE.to_string()),
                    (
                        "webshop/backend".to_string(),
                        images::POSTGRES_IMAGE.to_string(),
                    ),
                ],
            }
        } else {
            ExecutorOptions {
                runner_paths: vec![(RUNNER_IMAGE.to_string(), runner_binary)],
                default_binary: None,
                pg_bin: Some(pg.bin_dir().to_path_buf()),
                image_env: if options.pg_majors {
                    vec![(
                        tidemark_crd::contract::env::PG_BIN_ROOT.to_string(),
                        crate::postgres::majors_root()?.display().to_string(),
                    )]
                } else {
                    Vec::new()
                },
                container_images: Vec::new(),
            }
        };
        if let Some(container) = &options.operator_container {
            images::require(&[&container.image])?;
        }
        let executor = standin.executor(&executor_options)?;
        let age = options.age.then(|| {
            let identity = age::x25519::Identity::generate();
            AgeKeys {
                recipient: identity.to_public().to_string(),
                identity: identity.to_string().expose_secret().to_string(),
            }
        });
        let mut cluster = Cluster {
            operators: Vec::new(),
            executor: Some(executor),
            standin,
            s3,
            pg,
            client,
            options,
            logs,
            age,
            operator_binary,
        };
        cluster.install().await?;
        for _ in 0..cluster.options.operators {
            cluster.start_operator()?;
        }
        Ok(cluster)
    }

    /// CRDs (from `tidemark-operator crd`), the namespace and the Secrets.
    async fn install(&self) -> Result<()> {
        let out = std::process::Command::new(&self.operator_binary)
            .arg("crd")
            .output()
            .context("running tidemark-operator crd")?;
        if !out.status.success() {
            bail!(
                "tidemark-operator crd failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.apply(&String::from_utf8_lossy(&out.stdout)).await?;
        let ns = &self.options.namespace;
        self.apply_json(&json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}
        }))
        .await?;
        self.apply_json(&secret(
            ns,
            DB_SECRET,
            &[
                ("username", postgres::SUPERUSER),
                ("password", postgres::PASSWORD),
            ],
        ))
        .await?;
        self.apply_json(&secret(
            ns,
            S3_SECRET,
            &[
                ("access-key-id", &self.s3.access_key),
                ("secret-access-key", &self.s3.secret_key),
            ],
        ))
        .await?;
        if let Some(keys) = &self.age {
            self.apply_json(&secret(
                ns,
                RECIPIENTS_SECRET,
                &[("recipients", &keys.recipient)],
            ))
            .await?;
            self.apply_json(&secret(
                ns,
                IDENTITY_SECRET,
                &[("identity", &keys.identity)],
            ))
            .await?;
        }
        Ok(())
    }

    // ---- operators ------------------------------------------------------------------

    /// Starts one more operator process (index = the number started before).
    pub fn start_operator(&mut self) -> Result<usize> {
        let index = self.operators.len();
        let settings = OperatorSettings {
            binary: self.operator_binary.clone(),
            kubeconfig: self.standin.kubeconfig_path(),
            runner_image: RUNNER_IMAGE.to_string(),
            metrics_addr: format!("127.0.0.1:{}", tools::free_port()?),
            leader_election: self.options.leader_election.then(|| LeaderElection {
                namespace: self.options.namespace.clone(),
                identity: format!("operator-{index}"),
            }),
            namespaces: Vec::new(),
            extra_args: self.options.operator_args.clone(),
            log: self.logs.join(format!("operator-{index}.log")),
            container: self.options.operator_container.clone(),
        };
        self.operators.push(OperatorProcess::start(settings)?);
        Ok(index)
    }

    /// SIGKILLs operator `i` (a crash).
    pub fn kill_operator(&mut self, i: usize) -> Result<()> {
        self.operator_mut(i)?.kill();
        Ok(())
    }

    /// Starts operator `i` again with the same settings (stopping it first if needed).
    pub fn restart_operator(&mut self, i: usize) -> Result<()> {
        self.operator_mut(i)?.restart()
    }

    /// Operator `i`.
    pub fn operator(&self, i: usize) -> Result<&OperatorProcess> {
        self.operators
            .get(i)
            .ok_or_else(|| anyhow!("no operator {i} (started: {})", self.operators.len()))
    }

    fn operator_mut(&mut self, i: usize) -> Result<&mut OperatorProcess> {
        let n = self.operators.len();
        self.operators
            .get_mut(i)
            .ok_or_else(|| anyhow!("no operator {i} (started: {n})"))
    }

    /// All operators' logs so far, each headed by `== operator-<i> ==`.
    pub fn operator_logs(&self) -> String {
        self.operators
            .iter()
            .enumerate()
            .map(|(i, op)| format!("== operator-{i} ==\n{}", op.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    // ---- accessors ------------------------------------------------------------------

    /// A kube client for the stand-in.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The test namespace.
    pub fn namespace(&self) -> &str {
        &self.options.namespace
    }

    /// The PostgreSQL server.
    pub fn pg(&self) -> &TestPostgres {
        &self.pg
    }

    /// The S3 server.
    pub fn s3(&self) -> &S3Server {
        &self.s3
    }

    /// The API stand-in.
    pub fn standin(&self) -> &Standin {
        &self.standin
    }

    /// The kubeconfig of the stand-in (for `kubectl --kubeconfig`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.standin.kubeconfig_path()
    }

    /// The log directory.
    pub fn log_dir(&self) -> &Path {
        &self.logs
    }

    /// The age key pair, when created.
    pub fn age_keys(&self) -> Option<&AgeKeys> {
        self.age.as_ref()
    }

    /// The executor's per-pod directories.
    pub fn pod_dir(&self) -> Option<PathBuf> {
        self.executor.as_ref().map(|e| e.workdir().to_path_buf())
    }

    // ---- objects --------------------------------------------------------------------

    /// Server-side applies every document of a YAML stream; namespaced objects without
    /// a namespace go to the test namespace.
    pub async fn apply(&self, yaml: &str) -> Result<()> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).context("parsing YAML")?;
        for value in docs.iter().filter(|v| !v.is_null()) {
            self.apply_json(value).await?;
        }
        Ok(())
    }

    /// Server-side applies one object (force, field manager [`FIELD_MANAGER`]).
    pub async fn apply_json(&self, value: &Value) -> Result<DynamicObject> {
        let (api, name) = self.dynamic_api(value).await?;
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(value),
        )
        .await
        .with_context(|| format!("applying {} {name}", value["kind"]))
    }

    async fn dynamic_api(&self, value: &Value) -> Result<(Api<DynamicObject>, String)> {
        let api_version = value["apiVersion"].as_str().context("apiVersion missing")?;
        let kind = value["kind"].as_str().context("kind missing")?;
        let name = value["metadata"]["name"]
            .as_str()
            .context("metadata.name missing")?
            .to_string();
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps): (ApiResource, _) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .with_context(|| format!("discovering {api_version} {kind}"))?;
        let api = if caps.scope == Scope::Namespaced {
            let ns = value["metadata"]["namespace"]
                .as_str()
                .unwrap_or(&self.options.namespace);
            Api::namespaced_with(self.client.clone(), ns, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        Ok((api, name))
    }

    /// BackupPolicies of the test namespace.
    pub fn policies(&self) -> Api<BackupPolicy> {
        Api::namespaced(self.client.clone(), &self.options.namespace)
    }

    /// RestoreRequests of the test namespace.
    pub fn restores(&self) -> Api<RestoreRequest> {
        Api::namespaced(self.client.clone(), &self.options.namespace)
    }

    /// Sets `spec.runNow` of a policy (merge patch).
    pub async fn run_now(&self, policy: &str, value: &str) -> Result<()> {
        self.patch_policy(policy, json!({"spec": {"runNow": value}}))
            .await
    }

    /// Merge-patches a policy (e.g. `{"spec": {"suspend": true}}`; `null` removes).
    pub async fn patch_policy(&self, policy: &str, patch: Value) -> Result<()> {
        self.policies()
            .patch(policy, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("patching BackupPolicy {policy}"))?;
        Ok(())
    }

    /// The Jobs of the test namespace, sorted by name.
    pub async fn jobs(&self) -> Result<Vec<Job>> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.options.namespace);
        let mut jobs = api.list(&ListParams::default()).await?.items;
        jobs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(jobs)
    }

    /// Names of the Jobs with label `tidemark.dev/run-kind=<kind>` (`backup`, `prune`,
    /// `verify`, `restore-test`, `restore`…), sorted.
    pub async fn job_names(&self, kind: &str) -> Result<Vec<String>> {
        Ok(self
            .jobs()
            .await?
            .into_iter()
            .filter(|j| {
                j.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("tidemark.dev/run-kind"))
                    .is_some_and(|k| k == kind)
            })
            .filter_map(|j| j.metadata.name)
            .collect())
    }

    /// The Pods of the test namespace.
    pub async fn pods(&self) -> Result<Vec<Pod>> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.options.namespace);
        Ok(api.list(&ListParams::default()).await?.items)
    }

    /// Events of the test namespace (core/v1 and events.k8s.io/v1), as JSON.
    pub async fn events(&self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for (group, version) in [("", "v1"), ("events.k8s.io", "v1")] {
            let gvk = GroupVersionKind::gvk(group, version, "Event");
            let Ok((resource, _)) = kube::discovery::pinned_kind(&self.client, &gvk).await else {
                continue;
            };
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &self.options.namespace, &resource);
            for item in api.list(&ListParams::default()).await?.items {
                out.push(serde_json::to_value(item)?);
            }
        }
        Ok(out)
    }

    /// Creates (applies) a Deployment with `replicas` that stands for a writer of the
    /// database (its pods have no processes; the executor makes them Running).
    pub async fn create_writer(&self, name: &str, replicas: i32) -> Result<()> {
        self.apply_json(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.options.namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "webshop/backend:1"}]}
                }
            }
        }))
        .await?;
        Ok(())
    }

    /// `spec.replicas` of a Deployment.
    pub async fn deployment_replicas(&self, name: &str) -> Result<i32> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.options.namespace);
        let d = api.get(name).await?;
        Ok(d.spec.and_then(|s| s.replicas).unwrap_or(1))
    }

    // ---- building specs -------------------------------------------------------------

    /// A connection to database `db` of the test server, credentials from [`DB_SECRET`].
    pub fn database_connection(&self, db: &str) -> Value {
        json!({
            "host": "127.0.0.1",
            "port": self.pg.port(),
            "database": db,
            "userSecretRef": {"name": DB_SECRET, "key": "username"},
            "passwordSecretRef": {"name": DB_SECRET, "key": "password"},
            "sslMode": "disable",
        })
    }

    /// The bucket of the test S3 server, credentials from [`S3_SECRET`].
    pub fn s3_destination(&self) -> Value {
        json!({
            "bucket": BUCKET,
            "prefix": PREFIX,
            "region": "us-east-1",
            "endpoint": self.s3.endpoint,
            "forcePathStyle": true,
            "credentials": {
                "accessKeyIdSecretRef": {"name": S3_SECRET, "key": "access-key-id"},
                "secretAccessKeySecretRef": {"name": S3_SECRET, "key": "secret-access-key"},
            },
        })
    }

    /// A BackupPolicy of the seeded database into the test bucket: a schedule that
    /// never fires in a test (`0 0 1 1 *`; use `runNow` or set one), verification off,
    /// `backoffLimit: 0`, age encryption when the cluster has keys. Adjust the JSON and
    /// apply it with [`Cluster::apply_json`].
    pub fn policy(&self, name: &str) -> Value {
        let mut policy = json!({
            "apiVersion": "tidemark.dev/v1alpha1",
            "kind": "BackupPolicy",
            "metadata": {"name": name, "namespace": self.options.namespace},
            "spec": {
                "schedule": "0 0 1 1 *",
                "timeZone": "UTC",
                "database": self.database_connection(DATABASE),
                "dump": {"compression": {"algorithm": "zstd", "threads": 1}},
                "s3": self.s3_destination(),
                "verification": {"enabled": false},
                "jobTemplate": {"backoffLimit": 0},
            }
        });
        if self.age.is_some() {
            policy["spec"]["encryption"] =
                json!({"recipientsSecretRef": {"name": RECIPIENTS_SECRET, "key": "recipients"}});
        }
        policy
    }

    /// A RestoreRequest of the latest backup of `policy` into `target_db` (full, clean),
    /// decrypting with [`IDENTITY_SECRET`] when the cluster has keys.
    pub fn restore_request(&self, name: &str, policy: &str, target_db: &str) -> Value {
        let mut request = json!({
            "apiVersion": "tidemark.dev/v1alpha1",
            "kind": "RestoreRequest",
            "metadata": {"name": name, "namespace": self.options.namespace},
            "spec": {
                "source": {"policyRef": {"name": policy}},
                "backup": {"latest": true},
                "target": {"connection": self.database_connection(target_db)},
                "mode": {"content": "Full", "clean": true},
                "jobTemplate": {"backoffLimit": 0},
            }
        });
        if self.age.is_some() {
            request["spec"]["decryptionIdentitySecretRef"] =
                json!({"name": IDENTITY_SECRET, "key": "identity"});
        }
        request
    }

    // ---- S3 -------------------------------------------------------------------------

    /// All keys of the bucket starting with `prefix`, sorted.
    pub async fn s3_keys(&self, prefix: &str) -> Result<Vec<String>> {
        s3::list_keys(&self.s3.client(), BUCKET, prefix).await
    }

    /// All keys of a policy of the test namespace (under [`PREFIX`]), sorted.
    pub async fn policy_keys(&self, policy: &str) -> Result<Vec<String>> {
        self.s3_keys(&policy_prefix(PREFIX, &self.options.namespace, policy))
            .await
    }

    /// The backup keys of a policy that have a manifest (what exists for listing).
    pub async fn committed_backups(&self, policy: &str) -> Result<Vec<String>> {
        let keys = self.policy_keys(policy).await?;
        Ok(keys
            .iter()
            .filter(|k| keys.contains(&manifest_key(k)))
            .cloned()
            .collect())
    }

    /// The manifest of a backup key.
    pub async fn manifest(&self, backup_key: &str) -> Result<Manifest> {
        let bytes = s3::download(&self.s3.client(), BUCKET, &manifest_key(backup_key)).await?;
        serde_json::from_slice(&bytes).with_context(|| format!("parsing manifest of {backup_key}"))
    }

    // ---- waiting --------------------------------------------------------------------

    /// Polls `check` every 250 ms until it returns `Some`; on timeout the error names
    /// `what`, the last error, the operators' last log lines and the log directory.
    pub async fn wait_until<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match check().await {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => last_error = Some(format!("{e:#}")),
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out after {timeout:?} waiting for {what}{}\n{}\nlogs: {}",
                    last_error
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default(),
                    self.operator_log_tails(15),
                    self.logs.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until BackupPolicy `name` satisfies `pred`; the timeout error shows its
    /// last status.
    pub async fn wait_for_policy(
        &self,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&BackupPolicy) -> bool,
    ) -> Result<BackupPolicy> {
        let api = self.policies();
        let last = RefCell::new(None);
        let result = self
            .wait_until(&format!("BackupPolicy {name}"), timeout, || {
                let api = api.clone();
                let (last, pred) = (&last, &pred);
                async move {
                    let p = api.get(name).await?;
                    let ok = pred(&p);
                    *last.borrow_mut() = Some(p.status.clone());
                    Ok(ok.then_some(p))
                }
            })
            .await;
        result.map_err(|e| with_status(e, last.borrow().as_ref()))
    }

    /// Waits until RestoreRequest `name` satisfies `pred`; the timeout error shows its
    /// last status.
    pub async fn wait_for_restore(
        &self,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&RestoreRequest) -> bool,
    ) -> Result<RestoreRequest> {
        let api = self.restores();
        let last = RefCell::new(None);
        let result = self
            .wait_until(&format!("RestoreRequest {name}"), timeout, || {
                let api = api.clone();
                let (last, pred) = (&last, &pred);
                async move {
                    let r = api.get(name).await?;
                    let ok = pred(&r);
                    *last.borrow_mut() = Some(r.status.clone());
                    Ok(ok.then_some(r))
                }
            })
            .await;
        result.map_err(|e| with_status(e, last.borrow().as_ref()))
    }

    fn operator_log_tails(&self, n: usize) -> String {
        self.operators
            .iter()
            .enumerate()
            .map(|(i, op)| {
                format!(
                    "-- operator-{i} (last {n} lines):\n{}",
                    tail(&op.settings().log, n)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    // ---- secrets --------------------------------------------------------------------

    /// The credential values the cluster holds: `(what, value)`.
    pub fn secret_values(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("database password", postgres::PASSWORD.to_string()),
            ("S3 secret access key", self.s3.secret_key.clone()),
        ];
        if let Some(keys) = &self.age {
            out.push(("age identity", keys.identity.clone()));
        }
        out
    }

    /// Fails when any credential value appears in the operators' logs, in any
    /// BackupPolicy, RestoreRequest, Job, Pod (statuses, termination messages) or Event
    /// of the namespace, or in the pods' logs and termination messages.
    pub async fn assert_no_secret_leaks(&self) -> Result<()> {
        let mut sources: Vec<(String, String)> = Vec::new();
        for (i, op) in self.operators.iter().enumerate() {
            sources.push((format!("operator-{i} log"), op.log()));
        }
        let policies = self.policies().list(&ListParams::default()).await?.items;
        sources.push(("BackupPolicies".into(), serde_json::to_string(&policies)?));
        let restores = self.restores().list(&ListParams::default()).await?.items;
        sources.push(("RestoreRequests".into(), serde_json::to_string(&restores)?));
        sources.push(("Jobs".into(), serde_json::to_string(&self.jobs().await?)?));
        sources.push(("Pods".into(), serde_json::to_string(&self.pods().await?)?));
        sources.push((
            "Events".into(),
            serde_json::to_string(&self.events().await?)?,
        ));
        if let Some(dir) = self.pod_dir() {
            for file in files_under(&dir) {
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.ends_with(".log") || name == "termination-log" {
                    sources.push((
                        file.display().to_string(),
                        std::fs::read_to_string(&file).unwrap_or_default(),
                    ));
                }
            }
        }
        let leaks: Vec<String> = self
            .secret_values()
            .iter()
            .flat_map(|(what, value)| {
                sources
                    .iter()
                    .filter(move |(_, text)| text.contains(value.as_str()))
                    .map(move |(source, _)| format!("{what} in {source}"))
            })
            .collect();
        if !leaks.is_empty() {
            bail!("credentials leaked: {}", leaks.join("; "));
        }
        Ok(())
    }

    // ---- database -------------------------------------------------------------------

    /// Holds `LOCK TABLE <table> IN ACCESS EXCLUSIVE MODE` in `db` until the returned
    /// guard is released or dropped: a backup (pg_dump, row counts) of that table
    /// blocks meanwhile, which keeps a runner mid-run for as long as a test needs.
    pub fn lock_table(&self, db: &str, table: &str) -> Result<TableLock> {
        TableLock::acquire(&self.pg, db, table)
    }

    /// Per table: row count and content hash (see [`TestPostgres::fingerprints`]).
    pub fn fingerprints(&self, db: &str) -> Result<BTreeMap<String, (i64, String)>> {
        self.pg.fingerprints(db)
    }

    // ---- teardown -------------------------------------------------------------------

    fn collect_logs(&self) {
        let dest = self.logs.join("standin");
        let _ = std::fs::create_dir_all(&dest);
        for file in files_under(self.standin.dir()) {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !(name.ends_with(".log") || name == "termination-log") {
                continue;
            }
            if let Ok(rel) = file.strip_prefix(self.standin.dir()) {
                let target = dest.join(rel);
                if let Some(parent) = target.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let _ = std::fs::copy(&file, target);
            }
        }
        let _ = std::fs::copy(
            self.pg.dir().join("postgres.log"),
            self.logs.join("postgres.log"),
        );
        let _ = std::fs::copy(
            self.s3.dir().join("server.err"),
            self.logs.join("seaweedfs.log"),
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for op in &mut self.operators {
            op.stop();
        }
        // The executor stops running pods' processes on SIGTERM.
        drop(self.executor.take());
        self.collect_logs();
        if std::thread::panicking() {
            eprintln!(
                "tidemark e2e `{}` failed; logs kept in {}",
                self.options.name,
                self.logs.display()
            );
        }
    }
}

/// An open transaction holding an exclusive table lock (see [`Cluster::lock_table`]).
pub struct TableLock {
    child: Option<Child>,
    pg_env: Vec<(String, String)>,
    psql: PathBuf,
    db: String,
    table: String,
}

impl TableLock {
    fn acquire(pg: &TestPostgres, db: &str, table: &str) -> Result<Self> {
        let mut child = pg
            .tool("psql", db)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting psql")?;
        let stdin = child.stdin.as_mut().context("psql stdin")?;
        writeln!(stdin, "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;")?;
        stdin.flush()?;
        let lock = TableLock {
            child: Some(child),
            pg_env: pg.env(db),
            psql: pg.bin_dir().join("psql"),
            db: db.to_string(),
            table: table.to_string(),
        };
        lock.wait_locks("granted", 1, Duration::from_secs(10))?;
        Ok(lock)
    }

    fn count_locks(&self, granted: bool) -> Result<usize> {
        let sql = format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.relation = '{}'::regclass AND d.datname = current_database() AND {}l.granted",
            self.table,
            if granted { "" } else { "NOT " }
        );
        let out = std::process::Command::new(&self.psql)
            .envs(self.pg_env.iter().map(|(k, v)| (k, v)))
            .args(["-X", "-q", "-A", "-t", "-c", &sql])
            .output()?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    }

    fn wait_locks(&self, what: &str, at_least: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.count_locks(what == "granted")? >= at_least {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "no {what} lock on {} in {} within {timeout:?}",
                    self.table,
                    self.db
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until another session waits for this lock (e.g. the runner's pg_dump).
    pub fn wait_for_waiter(&self, timeout: Duration) -> Result<()> {
        self.wait_locks("waiting", 1, timeout)
    }

    /// Commits, releasing the lock.
    pub fn release(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = writeln!(stdin, "COMMIT;");
            }
            let status = child.wait()?;
            if !status.success() {
                bail!("the locking psql session failed ({status})");
            }
        }
        Ok(())
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn secret(ns: &str, name: &str, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "stringData": data,
    })
}

fn with_status<S: serde::Serialize>(e: anyhow::Error, status: Option<&S>) -> anyhow::Error {
    match status.and_then(|s| serde_json::to_string_pretty(s).ok()) {
        Some(s) => e.context(format!("last status: {s}")),
        None => e,
    }
}

/// `target/tidemark-e2e/<name>/`, emptied.
fn log_dir(name: &str) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools::workspace_root().join("target"));
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let dir = target.join("tidemark-e2e").join(safe);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}
