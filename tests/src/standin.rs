//! The Kubernetes API stand-in (`tests/standin`, Python on kmock) and its Job executor,
//! started as child processes on free ports in a temp dir and killed on drop.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let standin = tidemark_testkit::standin::Standin::start()?;
//! let client = standin.client()?;
//! let executor = standin.executor(&tidemark_testkit::standin::ExecutorOptions::default())?;
//! # drop((client, executor)); Ok(()) }
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// How long a child may take to print its `READY` line before we give up.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The Python interpreter of the project venv: `$TIDEMARK_VENV/bin/python`, else
/// `<repo>/.tidemark/venv/bin/python` (created by `scripts/setup.sh`).
pub fn python() -> Result<PathBuf> {
    let venv = match std::env::var_os("TIDEMARK_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join(".tidemark").join("venv"),
    };
    let python = venv.join("bin").join("python");
    if !python.exists() {
        bail!(
            "no Python venv at {} (run scripts/setup.sh, or set TIDEMARK_VENV)",
            venv.display()
        );
    }
    Ok(python)
}

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The directory holding the `tidemark_standin` Python package.
pub fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("standin")
}

/// A child process that is killed (and reaped) on drop.
#[derive(Debug)]
struct Guard(Child);

impl Drop for Guard {
    /// SIGTERM first (the executor then kills the processes of running pods, the
    /// stand-in writes its state), SIGKILL after a few seconds.
    fn drop(&mut self) {
        stop_child(&mut self.0, Duration::from_secs(5));
    }
}

/// Stops a child: SIGTERM, up to `grace` to exit, then SIGKILL; always reaped.
pub fn stop_child(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if crate::tools::signal(child.id(), "TERM").is_ok() {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Spawns `python -m tidemark_standin <args>`, logging stderr to `log`, and waits for the
/// first stdout line, which must start with `READY `. Returns the guard, the rest of the
/// line and how long it took.
fn spawn_ready(args: &[String], log: &Path) -> Result<(Guard, String, Duration)> {
    let stderr = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let started = Instant::now();
    let mut child = Command::new(python()?)
        .arg("-m")
        .arg("tidemark_standin")
        .args(args)
        .env("PYTHONPATH", package_dir())
        .env("CONTAINERS_CONF", crate::images::containers_conf())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .context("starting python -m tidemark_standin")?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        // Keep draining so the child never blocks on a full pipe.
        for _ in lines {}
    });
    let line = match rx.recv_timeout(READY_TIMEOUT) {
        Ok(Some(Ok(line))) => line,
        Ok(_) => bail!(
            "tidemark_standin {args:?} exited before it was ready; see {}",
            log.display()
        ),
        Err(_) => bail!(
            "tidemark_standin {args:?} not ready within {READY_TIMEOUT:?}; see {}",
            log.display()
        ),
    };
    let rest = line
        .strip_prefix("READY ")
        .ok_or_else(|| anyhow!("unexpected first line from tidemark_standin: {line:?}"))?;
    Ok((guard, rest.trim().to_string(), started.elapsed()))
}

/// A running API stand-in.
#[derive(Debug)]
pub struct Standin {
    process: Guard,
    url: String,
    dir: tempfile::TempDir,
    startup: Duration,
}

impl Standin {
    /// Starts a stand-in on a free port (the server binds port 0 and reports it).
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    /// Starts a stand-in with extra `serve` flags, e.g. `["--history-size", "100"]`.
    pub fn start_with(extra: &[&str]) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("tidemark-standin-")
            .tempdir()?;
        let mut args: Vec<String> = ["serve", "--host", "127.0.0.1", "--port", "0", "--state-dir"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(dir.path().join("state").display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        let (process, url, startup) = spawn_ready(&args, &dir.path().join("standin.log"))?;
        let standin = Standin {
            process,
            url,
            dir,
            startup,
        };
        std::fs::write(standin.kubeconfig_path(), standin.kubeconfig_yaml())?;
        Ok(standin)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// From spawning the process to its `READY` line.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The temp dir of this instance (logs, state, kubeconfig).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's stderr log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("standin.log")
    }

    /// A kubeconfig for `kubectl --kubeconfig` and `KUBECONFIG` (kube-rs `Config::infer`).
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The kubeconfig's text (the same as `python -m tidemark_standin kubeconfig` writes).
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: tidemark-standin\n  cluster:\n    server: {url}\n\
             users:\n- name: tidemark-standin\n  user: {{}}\ncontexts:\n- name: tidemark-standin\n  context:\n    \
             cluster: tidemark-standin\n    user: tidemark-standin\n    namespace: default\n\
             current-context: tidemark-standin\npreferences: {{}}\n",
            url = self.url
        )
    }

    /// A kube client for this stand-in.
    pub fn client(&self) -> Result<kube::Client> {
        let uri = self.url.parse().context("stand-in URL")?;
        let config = kube::Config::new(uri);
        Ok(kube::Client::try_from(config)?)
    }

    /// Starts an executor (kubelet + Job controller) against this stand-in.
    pub fn executor(&self, options: &ExecutorOptions) -> Result<Executor> {
        Executor::start(self, options)
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.0.try_wait(), Ok(None))
    }
}

/// Settings of the Job executor.
#[derive(Debug, Clone, Default)]
pub struct ExecutorOptions {
    /// `(image, local binary)`: containers of `image` run `binary` (an image ending in `*`
    /// is a prefix).
    pub runner_paths: Vec<(String, PathBuf)>,
    /// The binary for images without a mapping.
    pub default_binary: Option<PathBuf>,
    /// PostgreSQL's bin dir for restore-test sidecars (default: the newest installed).
    pub pg_bin: Option<PathBuf>,
    /// `(image, local podman image)`: pods whose first container has `image` run as real
    /// containers (podman, see `tests/standin/README.md`), every container's image mapped
    /// here (patterns as for `runner_paths`).
    pub container_images: Vec<(String, String)>,
    /// `(name, value)`: environment every process-run container starts with, as an
    /// image's `ENV` would set it (the pod's own env overrides it).
    pub image_env: Vec<(String, String)>,
}

/// A running executor.
#[derive(Debug)]
pub struct Executor {
    _process: Guard,
    workdir: PathBuf,
}

impl Executor {
    fn start(standin: &Standin, options: &ExecutorOptions) -> Result<Self> {
        let workdir = standin.dir().join("executor");
        std::fs::create_dir_all(&workdir)?;
        let mut args: Vec<String> = vec![
            "executor".into(),
            "--server".into(),
            standin.url().into(),
            "--workdir".into(),
            workdir.display().to_string(),
        ];
        for (image, path) in &options.runner_paths {
            args.push("--runner-path-map".into());
            args.push(format!("{image}={}", path.display()));
        }
        if let Some(binary) = &options.default_binary {
            args.push("--default-binary".into());
            args.push(binary.display().to_string());
        }
        if let Some(pg_bin) = &options.pg_bin {
            args.push("--pg-bin".into());
            args.push(pg_bin.display().to_string());
        }
        for (image, local) in &options.container_images {
            args.push("--container-image".into());
            args.push(format!("{image}={local}"));
        }
        for (name, value) in &options.image_env {
            args.push("--image-env".into());
            args.push(format!("{name}={value}"));
        }
        let (process, _, _) = spawn_ready(&args, &standin.dir().join("executor.log"))?;
        Ok(Executor {
            _process: process,
            workdir,
        })
    }

    /// Per-pod directories (`<namespace>/<pod>/`: stdout/stderr logs, termination log).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }
}
