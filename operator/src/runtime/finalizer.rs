//! Adding and removing one of our finalizers, the same way for both controllers.
//!
//! The finalizer list is changed with a merge patch that carries the object's
//! `resourceVersion`, so a concurrent change makes the patch fail (409) and the
//! reconcile retry, instead of dropping someone else's finalizer. An object that is
//! gone (404) needs no finalizer any more: that is success, not an error to retry.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::error::Error;

/// Whether `obj` carries `finalizer`.
pub fn has(obj: &impl ResourceExt, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// The finalizer list of `obj` with `finalizer` present or absent (others kept, in
/// order; ours last when added).
pub fn list_with(obj: &impl ResourceExt, finalizer: &str, present: bool) -> Vec<String> {
    let mut list: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    if present {
        list.push(finalizer.to_string());
    }
    list
}

/// Adds (`present`) or removes `finalizer` on `obj` (pass the newest copy: its
/// `resourceVersion` guards the patch). Returns the object as stored, or `None` when
/// it no longer exists.
pub async fn set<K>(
    client: &kube::Client,
    obj: &K,
    finalizer: &str,
    present: bool,
) -> Result<Option<K>, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let ns = obj.namespace().ok_or(Error::Unnamed)?;
    let name = obj.name_any();
    let patch = serde_json::json!({
        "metadata": {
            "finalizers": list_with(obj, finalizer, present),
            "resourceVersion": obj.resource_version(),
        }
    });
    match Api::<K>::namespaced(client.clone(), &ns)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(stored) => Ok(Some(stored)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(Error::Finalizer(format!("{ns}/{name}"), e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};
    use tidemark_crd::BackupPolicy;

    use super::*;

    const OURS: &str = "tidemark.dev/purge";

    fn policy(finalizers: Value) -> BackupPolicy {
        crate::testing::minimal_policy(|v| v["metadata"]["finalizers"] = finalizers)
    }

    /// Runs `set` against an API answering the one PATCH with `code` and `answer`;
    /// returns the result and the patch sent.
    async fn set_against(
        obj: &BackupPolicy,
        present: bool,
        code: u16,
        answer: Value,
    ) -> (Result<Option<BackupPolicy>, Error>, Value) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "default");
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(request.method(), http::Method::PATCH);
            assert_eq!(
                request.uri().path(),
                "/apis/tidemark.dev/v1alpha1/namespaces/shop/backuppolicies/web"
            );
            let body = request.into_body().collect_bytes().await.unwrap();
            let sent: Value = serde_json::from_slice(&body).unwrap();
            let answer = Response::builder()
                .status(code)
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap();
            send.send_response(answer);
            sent
        });
        let result = set(&client, obj, OURS, present).await;
        (result, server.await.unwrap())
    }

    fn status(code: u16, reason: &str) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "reason": reason, "code": code, "message": reason})
    }

    #[test]
    fn ours_is_added_last_and_removed_alone() {
        let p = policy(json!(["example.com/other", OURS]));
        assert!(has(&p, OURS));
        assert_eq!(list_with(&p, OURS, false), vec!["example.com/other"]);
        assert_eq!(list_with(&p, OURS, true), vec!["example.com/other", OURS]);
        assert!(!has(&policy(json!([])), OURS));
    }

    #[tokio::test]
    async fn the_patch_carries_the_resource_version_and_returns_the_stored_object() {
        let p = policy(json!(["example.com/other"]));
        let mut stored = serde_json::to_value(policy(json!(["example.com/other", OURS]))).unwrap();
        stored["metadata"]["resourceVersion"] = json!("11");
        let (result, sent) = set_against(&p, true, 200, stored).await;
        assert_eq!(
            sent,
            json!({"metadata": {"finalizers": ["example.com/other", OURS], "resourceVersion": "10"}})
        );
        let stored = result.unwrap().unwrap();
        assert_eq!(stored.resource_version().as_deref(), Some("11"));
    }

    #[tokio::test]
    async fn an_object_gone_needs_no_finalizer_change() {
        let (result, _) =
            set_against(&policy(json!([OURS])), false, 404, status(404, "NotFound")).await;
        assert!(matches!(result, Ok(None)), "{result:?}");
    }

    #[tokio::test]
    async fn a_concurrent_change_is_an_error_to_retry() {
        let (result, _) =
            set_against(&policy(json!([OURS])), false, 409, status(409, "Conflict")).await;
        let e = result.unwrap_err();
        assert_eq!(e.kind(), "finalizer");
        assert!(
            e.to_string()
                .starts_with("updating the finalizers of shop/web"),
            "{e}"
        );
    }
}
