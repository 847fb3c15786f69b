//! Real S3 servers for tests, on 127.0.0.1 with configured keys: SeaweedFS (`weed mini`,
//! the main target) and moto in server mode with SigV4 enforced through its IAM
//! emulation (the portability check). Both are stopped on Drop; [`S3Server::stop`]
//! kills one mid-test. Plus an SDK client and the listing helpers tests assert with.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use tempfile::TempDir;

use crate::tools;

/// A running S3-compatible server.
pub struct S3Server {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    /// Plain-HTTP endpoint (the same as `endpoint` unless the server runs HTTPS), used
    /// by the test-side client and the readiness check.
    pub plain_endpoint: String,
    child: Option<Child>,
    launch: Launch,
    tls_ca: Option<PathBuf>,
    dir: TempDir,
}

/// How to (re)start a server process.
struct Launch {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    health_path: String,
}

impl S3Server {
    /// Starts SeaweedFS (`weed mini`) with one identity, explicit ports, sockets and
    /// logs inside a temp dir; waits for `/healthz`.
    pub fn seaweedfs() -> Result<Self> {
        Self::seaweedfs_with(false)
    }

    /// SeaweedFS whose S3 endpoint is HTTPS with a certificate from a fresh test CA
    /// ([`Self::tls_ca`]); `endpoint` is the HTTPS one.
    pub fn seaweedfs_tls() -> Result<Self> {
        Self::seaweedfs_with(true)
    }

    fn seaweedfs_with(tls: bool) -> Result<Self> {
        start_fresh(|| Self::seaweedfs_once(tls))
    }

    fn seaweedfs_once(tls: bool) -> Result<Self> {
        let weed = tools::find_program("weed")?;
        let dir = tempfile::Builder::new()
            .prefix("tidemark-weed-")
            .tempdir()?;
        let access_key = format!("AKWEED{}", std::process::id());
        let secret_key = format!("weed-secret-{}-{}", std::process::id(), tools::free_port()?);
        let creds = serde_json::json!({
            "identities": [{
                "name": "tidemark",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }]
        });
        let p = dir.path();
        std::fs::write(p.join("creds.json"), creds.to_string())?;
        std::fs::create_dir_all(p.join("log"))?;
        let ports = tools::free_ports(13)?;
        let flag = |name: &str, i: usize| format!("-{name}={}", ports[i]);
        let mut args = vec![
            format!("-logdir={}", p.join("log").display()),
            "mini".to_string(),
            format!("-dir={}", p.join("data").display()),
            "-ip=127.0.0.1".to_string(),
            "-ip.bind=127.0.0.1".to_string(),
        ];
        args.extend([
            flag("master.port", 0),
            flag("master.port.grpc", 1),
            flag("volume.port", 2),
            flag("volume.port.grpc", 3),
            flag("filer.port", 4),
            flag("filer.port.grpc", 5),
            flag("s3.port", 6),
            flag("s3.port.grpc", 7),
            flag("s3.port.iceberg", 8),
            flag("s3.port.lance", 9),
            flag("admin.port", 10),
            flag("admin.port.grpc", 11),
        ]);
        args.extend([
            format!("-s3.config={}", p.join("creds.json").display()),
            format!("-s3.localSocket={}", p.join("s3.sock").display()),
            format!("-filer.localSocket={}", p.join("filer.sock").display()),
            "-s3.autoCreateBucket=false".to_string(),
            "-master.telemetry=false".to_string(),
            "-webdav=false".to_string(),
            "-admin.ui=false".to_string(),
        ]);
        let mut tls_ca = None;
        if tls {
            let certs = tools::make_test_certificates(p)?;
            args.extend([
                format!("-s3.port.https={}", ports[12]),
                format!("-s3.cert.file={}", certs.cert.display()),
                format!("-s3.key.file={}", certs.key.display()),
            ]);
            tls_ca = Some(certs.ca);
        }
        let mut server = Self {
            endpoint: format!("http://127.0.0.1:{}", ports[6]),
            plain_endpoint: format!("http://127.0.0.1:{}", ports[6]),
            tls_ca,
            access_key,
            secret_key,
            child: None,
            launch: Launch {
                program: weed,
                args,
                env: Vec::new(),
                health_path: "/healthz".into(),
            },
            dir,
        };
        server.restart()?;
        if server.tls_ca.is_some() {
            server.endpoint = format!("https://localhost:{}", ports[12]);
        }
        Ok(server)
    }

    /// Starts moto's server and turns on request authentication (SigV4) after creating
    /// an IAM user with an allow-all policy and an access key for it.
    pub fn moto() -> Result<Self> {
        start_fresh(Self::moto_once)
    }

    fn moto_once() -> Result<Self> {
        let moto = tools::find_program("moto_server")?;
        let python = moto.with_file_name("python");
        let dir = tempfile::Builder::new()
            .prefix("tidemark-moto-")
            .tempdir()?;
        let port = tools::free_port()?;
        let mut server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            plain_endpoint: format!("http://127.0.0.1:{port}"),
            access_key: String::new(),
            secret_key: String::new(),
            tls_ca: None,
            child: None,
            launch: Launch {
                program: moto,
                args: vec![
                    "-H".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    port.to_string(),
                ],
                // The first 3 requests (the IAM setup below) are unauthenticated.
                env: vec![("INITIAL_NO_AUTH_ACTION_COUNT".into(), "3".into())],
                health_path: "/moto-api/".into(),
            },
            dir,
        };
        server.restart()?;
        let script = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="tidemark")
iam.put_user_policy(UserName="tidemark", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="tidemark")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
"#;
        let out = Command::new(python)
            .args(["-c", script, &server.plain_endpoint])
            .output()
            .context("creating the moto IAM user with the venv's python")?;
        if !out.status.success() {
            bail!(
                "moto IAM setup failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        server.access_key = words.next().context("no access key id")?.to_string();
        server.secret_key = words.next().context("no secret key")?.to_string();
        Ok(server)
    }

    /// (Re)starts the server process on the same ports and data directory and waits
    /// until it answers.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let p = self.dir.path();
        let child = Command::new(&self.launch.program)
            .args(&self.launch.args)
            .envs(self.launch.env.iter().map(|(k, v)| (k, v)))
            .current_dir(p)
            .stdin(Stdio::null())
            .stdout(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(p.join("server.out"))?,
            )
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(p.join("server.err"))?,
            )
            .spawn()
            .with_context(|| format!("starting {}", self.launch.program.display()))?;
        self.child = Some(child);
        let path = self.launch.health_path.clone();
        self.wait_http(&path)
    }

    /// The CA of an HTTPS server's certificate.
    pub fn tls_ca(&self) -> Option<&std::path::Path> {
        self.tls_ca.as_deref()
    }

    fn wait_http(&mut self, path: &str) -> Result<()> {
        let addr = self
            .plain_endpoint
            .trim_start_matches("http://")
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http_ok(&addr, path) {
                return Ok(());
            }
            // A server that exits at start (e.g. its port was taken by a parallel test
            // between choosing and binding it) will never answer: say so at once.
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let err =
                    std::fs::read_to_string(self.dir.path().join("server.err")).unwrap_or_default();
                let tail: String = err
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                bail!(
                    "S3 server at {} exited at start ({status}): {tail}",
                    self.endpoint
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "S3 server at {} not ready after 60 s; logs in {}",
                    self.endpoint,
                    self.dir.path().display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Environment for the runner: endpoint, path style, region and these keys.
    pub fn runner_env(&self, bucket: &str) -> Vec<(String, String)> {
        vec![
            ("TIDEMARK_S3_BUCKET".into(), bucket.into()),
            ("TIDEMARK_S3_ENDPOINT".into(), self.endpoint.clone()),
            ("TIDEMARK_S3_FORCE_PATH_STYLE".into(), "true".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
        ]
    }

    /// An SDK client with this server's keys.
    pub fn client(&self) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.plain_endpoint)
            .force_path_style(true)
            // Tests compare SHA-256 themselves; moto reports multipart checksums in a
            // form the SDK's response validation rejects.
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "tidemark-testkit",
            ))
            .build();
        Client::from_conf(config)
    }

    /// Creates a bucket and waits until a signed PUT and DELETE succeed in it.
    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        // A server that has just answered its health check may still refuse signed
        // requests for a moment (SeaweedFS loads its identities after it listens): an
        // empty reply or SignatureDoesNotMatch then, so the creation is retried too.
        loop {
            let created = client.create_bucket().bucket(bucket).send().await;
            match created {
                Ok(_) => break,
                Err(e)
                    if e.as_service_error().is_some_and(|s| {
                        s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                    }) =>
                {
                    break;
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(e).with_context(|| format!("creating bucket {bucket}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        loop {
            let put = client
                .put_object()
                .bucket(bucket)
                .key(".probe")
                .body(b"ok".to_vec().into())
                .send()
                .await;
            if put.is_ok() {
                client
                    .delete_object()
                    .bucket(bucket)
                    .key(".probe")
                    .send()
                    .await?;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("bucket {bucket} not writable: {put:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Kills the server now (to fail uploads mid-stream).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Where the server keeps its data and logs.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// Starts a server on freshly chosen ports, up to three times: free ports are chosen
/// before the server binds them, so a parallel test can take one in between.
fn start_fresh(start: impl Fn() -> Result<S3Server>) -> Result<S3Server> {
    let mut last = None;
    for _ in 0..3 {
        match start() {
            Ok(server) => return Ok(server),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt to start the S3 server")))
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain HTTP GET returning 2xx, without any client library.
fn http_ok(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2")
}

/// All keys under `prefix`. (Filtered here rather than with the `prefix` parameter:
/// moto's SigV4 check rejects an encoded `/` in the query.)
pub async fn list_keys(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context("listing objects")?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| k.starts_with(prefix))
                .map(str::to_string),
        );
    }
    keys.sort();
    Ok(keys)
}

/// Keys of multipart uploads still pending in the bucket.
pub async fn pending_uploads(client: &Client, bucket: &str) -> Result<Vec<String>> {
    let out = client
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .context("listing multipart uploads")?;
    Ok(out
        .uploads()
        .iter()
        .filter_map(|u| u.key().map(str::to_string))
        .collect())
}

/// Downloads one object.
pub async fn download(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .with_context(|| format!("downloading {key}"))?;
    Ok(out.body.collect().await?.into_bytes().to_vec())
}
