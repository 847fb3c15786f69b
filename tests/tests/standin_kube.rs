//! kube-rs 5.0 against the API stand-in: CRUD, all patch kinds, status, watcher events,
//! a CRD used through discovery and `DynamicObject`, and error matching.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Discovery;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use tidemark_testkit::standin::Standin;

const CRD_YAML: &str = include_str!("../standin/tests/fixtures/backuppolicy-crd.yaml");

fn configmap(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

fn api_status(err: kube::Error) -> Box<kube::core::Status> {
    match err {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_standin_starts_quickly_and_serves_kube_rs_crud() {
    let standin = Standin::start().unwrap();
    eprintln!("stand-in ready in {:?}", standin.startup_time());
    assert!(
        standin.startup_time() < Duration::from_secs(3),
        "startup took {:?}",
        standin.startup_time()
    );
    let client = standin.client().unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let created = cms
        .create(&PostParams::default(), &configmap("a", &[("x", "1")]))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let got = cms.get("a").await.unwrap();
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );
    let listed = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some());

    let mut replaced = got.clone();
    replaced.data = Some(BTreeMap::from([("y".to_string(), "2".to_string())]));
    let replaced = cms
        .replace("a", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(
        replaced.data.unwrap().get("y").map(String::as_str),
        Some("2")
    );

    // A replace with the stale resourceVersion is a conflict.
    let stale = cms
        .replace("a", &PostParams::default(), &got)
        .await
        .unwrap_err();
    assert!(api_status(stale).is_conflict());

    // Errors carry the standard reasons kube-core matches on.
    let missing = cms.get("nope").await.unwrap_err();
    assert!(api_status(missing).is_not_found());
    let twice = cms
        .create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap_err();
    assert!(api_status(twice).is_already_exists());
    assert!(cms.get_opt("nope").await.unwrap().is_none());

    cms.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(cms.get_opt("a").await.unwrap().is_none());
}

#[tokio::test]
async fn kube_rs_patches_merge_json_apply_and_status() {
    let standin = Standin::start().unwrap();
    let client = standin.client().unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("p", &[("a", "1")]))
        .await
        .unwrap();

    let merged = cms
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data.as_ref().unwrap().len(), 2);

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "remove", "path": "/data/a"}
    ]))
    .unwrap();
    let patched = cms
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert!(!patched.data.unwrap().contains_key("a"));
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/b", "value": "nope"}]))
            .unwrap();
    let err = cms
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
        .await
        .unwrap_err();
    assert_eq!(api_status(err).code, 422);

    // Server-side apply creates a missing object, records the field manager.
    let ssa = PatchParams::apply("tidemark-test").force();
    let applied = cms
        .patch(
            "applied",
            &ssa,
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "applied"}, "data": {"k": "v"}
            })),
        )
        .await
        .unwrap();
    assert_eq!(
        applied.data.unwrap().get("k").map(String::as_str),
        Some("v")
    );
    let managers: Vec<_> = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec!["tidemark-test".to_string()]);

    // patch_status changes status only; the main resource ignores status.
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let with_status = jobs
        .patch_status(
            "j",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"active": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(with_status.status.unwrap().active, Some(1));
    let ignored = jobs
        .patch(
            "j",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"active": 5}, "metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.status.unwrap().active, Some(1));
    assert_eq!(ignored.metadata.generation, Some(1));
}

#[tokio::test]
async fn the_kube_runtime_watcher_sees_init_then_apply_and_delete() {
    let standin = Standin::start().unwrap();
    let client = standin.client().unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("before", &[]))
        .await
        .unwrap();

    let mut stream = watcher::watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .expect("watch event within 10 s")
            .unwrap()
            .unwrap()
    };
    assert!(matches!(next().await, Event::Init));
    match next().await {
        Event::InitApply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("before")),
        other => panic!("expected InitApply, got {other:?}"),
    }
    assert!(matches!(next().await, Event::InitDone));

    cms.create(&PostParams::default(), &configmap("after", &[]))
        .await
        .unwrap();
    match next().await {
        Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("after")),
        other => panic!("expected Apply, got {other:?}"),
    }
    cms.delete("after", &DeleteParams::default()).await.unwrap();
    match next().await {
        Event::Delete(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("after")),
        other => panic!("expected Delete, got {other:?}"),
    }
}

#[tokio::test]
async fn a_crd_is_usable_through_discovery_and_dynamic_objects() {
    let standin = Standin::start().unwrap();
    let client = standin.client().unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_saphyr::from_str(CRD_YAML).unwrap();
    crds.patch(
        "backuppolicies.tidemark.dev",
        &PatchParams::apply("tidemark-test"),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    let established = crds.get("backuppolicies.tidemark.dev").await.unwrap();
    let conditions = established.status.unwrap().conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let gvk = GroupVersionKind::gvk("tidemark.dev", "v1alpha1", "BackupPolicy");
    let (resource, caps) = discovery
        .resolve_gvk(&gvk)
        .expect("BackupPolicy discovered");
    assert_eq!(resource.plural, "backuppolicies");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let ar = ApiResource::from_gvk(&gvk);
    assert_eq!(ar.plural, resource.plural);

    let policies: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let mut watch = watcher::watcher(policies.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let policy: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
        "metadata": {"name": "webshop"}, "spec": {"schedule": "0 * * * *"}
    }))
    .unwrap();
    let created = policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    assert_eq!(
        created.data["spec"]["suspend"],
        json!(false),
        "schema default"
    );
    let seen = tokio::time::timeout(Duration::from_secs(10), watch.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(seen.metadata.name.as_deref(), Some("webshop"));

    let status = policies
        .patch_status(
            "webshop",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}})),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["phase"], json!("Ready"));
    assert_eq!(status.data["spec"]["schedule"], json!("0 * * * *"));
    let listed = policies.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let missing = policies.get("nope").await.unwrap_err();
    assert!(api_status(missing).is_not_found());
}

/// `Config::infer()` reads `KUBECONFIG`; run in a child process of this test binary
/// so that the environment variable is set without touching this process's env.
#[tokio::test]
async fn kube_config_infer_works_with_the_written_kubeconfig() {
    if let Ok(url) = std::env::var("TIDEMARK_STANDIN_INFER_CHILD") {
        let config = kube::Config::infer().await.unwrap();
        assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), url);
        let client = kube::Client::try_from(config).unwrap();
        let namespaces: Api<Namespace> = Api::all(client);
        let names: Vec<_> = namespaces
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert!(names.contains(&"default".to_string()));
        return;
    }
    let standin = Standin::start().unwrap();
    let status = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kube_config_infer_works_with_the_written_kubeconfig",
            "--nocapture",
        ])
        .env("KUBECONFIG", standin.kubeconfig_path())
        .env("TIDEMARK_STANDIN_INFER_CHILD", standin.url())
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn the_executor_runs_a_job_and_reports_the_termination_message() {
    use k8s_openapi::api::core::v1::Pod;
    use tidemark_testkit::standin::ExecutorOptions;

    let standin = Standin::start().unwrap();
    let _executor = standin.executor(&ExecutorOptions::default()).unwrap();
    let client = standin.client().unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "hello"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
            "name": "main", "image": "busybox",
            "command": ["/bin/sh", "-c", "printf '{\"ok\":true}' > \"$TIDEMARK_TERMINATION_LOG\""]
        }]}}}
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let done = kube::runtime::wait::await_condition(
        jobs.clone(),
        "hello",
        kube::runtime::conditions::is_job_completed(),
    );
    tokio::time::timeout(Duration::from_secs(30), done)
        .await
        .expect("the job completes within 30 s")
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let listed = pods
        .list(&ListParams::default().labels("job-name=hello"))
        .await
        .unwrap();
    let terminated = listed.items[0]
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c[0].state.as_ref())
        .and_then(|s| s.terminated.clone())
        .expect("terminated state");
    assert_eq!(terminated.exit_code, 0);
    assert_eq!(terminated.message.as_deref(), Some("{\"ok\":true}"));
}
