//! `tidemark-local-cluster`: the local cluster of the end-to-end tests as a program, for
//! `scripts/demo` and for trying Tidemark by hand.
//!
//! Starts PostgreSQL with the seeded `webshop` database, SeaweedFS, the Kubernetes API
//! stand-in with the CRDs, namespace `webshop` and the Secrets the examples reference
//! (with an age key pair), the Job executor and one operator; writes into `--out`:
//! - `env`: `KUBECONFIG`, `PGHOST`/`PGPORT`/`PGUSER`/`PGDATABASE` (local test server)
//!   and `TIDEMARK_LOGS`, for `source`;
//! - `webshop-policy.yaml`: `examples/webshop-hourly.yaml` pointed at the local servers,
//!   with every schedule set to `--schedule` (default every minute);
//! - `restore-latest.yaml`: `examples/restore-latest.yaml` pointed at the local server;
//! - `restore-lost-server.yaml`: `examples/restore-lost-server.yaml` restoring into a new
//!   database `webshop_recovered` on the local server (created by the restore);
//! - `writers.yaml`: the two Deployments that restore stops and restarts;
//!
//! then prints `READY <out>` and runs until SIGTERM, SIGINT or end of stdin, when
//! everything is stopped and removed (logs stay in `TIDEMARK_LOGS`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tidemark_testkit::cluster::{Cluster, ClusterOptions, DATABASE};
use tidemark_testkit::{postgres, tools};

struct Args {
    out: PathBuf,
    schedule: String,
    orders: u32,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        out: PathBuf::from("tidemark-local"),
        schedule: "* * * * *".to_string(),
        orders: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => args.out = PathBuf::from(value()?),
            "--schedule" => args.schedule = value()?,
            "--orders" => args.orders = value()?.parse().context("--orders")?,
            "-h" | "--help" => {
                println!(
                    "usage: tidemark-local-cluster [--out DIR] [--schedule CRON] [--orders N]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    Ok(args)
}

fn read_example(name: &str) -> Result<Value> {
    let path = tools::workspace_root().join("examples").join(name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn write_yaml(dir: &Path, name: &str, docs: &[Value]) -> Result<()> {
    let mut text = String::new();
    for doc in docs {
        text.push_str("---\n");
        text.push_str(&tidemark_crd::crdgen::to_yaml(doc)?);
    }
    std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))
}

/// The example's connection with the local server's address (same Secret references).
fn localize_connection(conn: &mut Value, cluster: &Cluster) {
    conn["host"] = json!("127.0.0.1");
    conn["port"] = json!(cluster.pg().port());
    conn["sslMode"] = json!("disable");
}

fn manifests(cluster: &Cluster, args: &Args) -> Result<()> {
    let mut policy = read_example("webshop-hourly.yaml")?;
    let spec = &mut policy["spec"];
    spec["schedule"] = json!(args.schedule);
    spec["startingDeadlineSeconds"] = json!(30);
    localize_connection(&mut spec["database"], cluster);
    let s3 = cluster.s3_destination();
    for field in ["bucket", "region", "endpoint", "forcePathStyle"] {
        spec["s3"][field] = s3[field].clone();
    }
    spec["verification"]["schedule"] = json!(args.schedule);
    spec["verification"]["minSize"] = json!("1Ki");
    spec["restoreTest"]["schedule"] = json!(args.schedule);
    spec["restoreTest"]["deadlineSeconds"] = json!(600);
    spec["jobTemplate"]["ttlSecondsAfterFinished"] = json!(3600);
    // No webhook to send alerts to on this machine.
    if let Some(map) = spec.as_object_mut() {
        map.remove("notifications");
    }
    write_yaml(&args.out, "webshop-policy.yaml", &[policy])?;

    let mut restore = read_example("restore-latest.yaml")?;
    localize_connection(&mut restore["spec"]["target"]["connection"], cluster);
    write_yaml(&args.out, "restore-latest.yaml", &[restore])?;

    let mut lost = read_example("restore-lost-server.yaml")?;
    let target = &mut lost["spec"]["target"]["connection"];
    localize_connection(target, cluster);
    target["database"] = json!("webshop_recovered");
    write_yaml(&args.out, "restore-lost-server.yaml", &[lost])?;

    let writer = |name: &str, replicas: i32| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": cluster.namespace()},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                             "spec": {"containers": [{"name": "app", "image": "webshop/backend:1"}]}}
            }
        })
    };
    write_yaml(
        &args.out,
        "writers.yaml",
        &[writer("webshop-backend", 2), writer("webshop-worker", 1)],
    )?;

    let env = format!(
        "export KUBECONFIG='{}'\nexport PGHOST=127.0.0.1 PGPORT={} PGUSER={} PGDATABASE={DATABASE} PGSSLMODE=disable\n\
         export PGPASSWORD='{}'\nexport TIDEMARK_LOGS='{}'\n",
        cluster.kubeconfig().display(),
        cluster.pg().port(),
        postgres::SUPERUSER,
        postgres::PASSWORD,
        cluster.log_dir().display()
    );
    std::fs::write(args.out.join("env"), env).context("writing env")?;
    Ok(())
}

async fn until_stopped() {
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    });
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = stdin_closed => {},
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cluster = Cluster::start(ClusterOptions::new("demo").orders(args.orders).age()).await?;
    manifests(&cluster, &args)?;
    println!("READY {}", args.out.display());
    until_stopped().await;
    drop(cluster);
    println!("STOPPED");
    Ok(())
}
