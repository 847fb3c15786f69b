//! A scripted API server on kube's mock service (tower-test): each test lists the
//! requests a reconcile must make, in order, with the answers, and gets back what was
//! sent.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use tidemark_operator::context::{
    Context, LeaderElectionConfig, LogFormat, OperatorConfig, WatchScope,
};
use tower_test::mock::Handle;

pub type ApiHandle = Handle<Request<Body>, Response<Body>>;

/// An operator context on `client` (all namespaces, no leader election).
pub fn context(client: kube::Client) -> Arc<Context> {
    Context::new(
        client,
        OperatorConfig {
            runner_image: "ghcr.io/tidemark-dev/tidemark-runner:test".into(),
            job_pod_defaults: Default::default(),
            namespaces: WatchScope::All,
            metrics_addr: "127.0.0.1:0".parse().unwrap(),
            leader: LeaderElectionConfig {
                enabled: false,
                lease_name: "tidemark-operator".into(),
                lease_namespace: "default".into(),
                identity: "test".into(),
            },
            log_format: LogFormat::Text,
        },
    )
}

/// One expected request: method, path, and the answer (status code and JSON).
#[derive(Clone)]
pub struct Expect {
    pub method: Method,
    pub path: &'static str,
    pub status: u16,
    pub answer: Value,
    /// Answer with this object carrying the status sent (a status write's answer) and
    /// the next resourceVersion, instead of `answer`.
    pub echo_status_onto: Option<Value>,
}

/// An expected request answered with 200 and `answer`.
pub fn expect(method: Method, path: &'static str, answer: Value) -> Expect {
    Expect {
        method,
        path,
        status: 200,
        answer,
        echo_status_onto: None,
    }
}

/// An expected status write answered with `onto` carrying the status sent, as an API
/// server does.
pub fn echo_status(method: Method, path: &'static str, onto: Value) -> Expect {
    Expect {
        echo_status_onto: Some(onto),
        ..expect(method, path, Value::Null)
    }
}

/// An expected request answered with 404 NotFound.
pub fn not_found(method: Method, path: &'static str) -> Expect {
    Expect {
        status: 404,
        ..expect(
            method,
            path,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "reason": "NotFound", "code": 404, "message": "not found"}),
        )
    }
}

/// Serves the scripted requests in order and returns what was sent (URI, JSON body);
/// fails on a request out of order or one more than scripted.
pub async fn serve(mut handle: ApiHandle, script: Vec<Expect>) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    for e in script {
        let (request, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("no request came; expected {} {}", e.method, e.path))
            .expect("the service was dropped");
        let uri = request.uri().to_string();
        assert_eq!(
            (request.method(), request.uri().path()),
            (&e.method, e.path),
            "request {uri}"
        );
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        let answer = match e.echo_status_onto {
            Some(mut onto) => {
                onto["status"] = body["status"].clone();
                let rv: u64 = onto["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                onto["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
                onto
            }
            None => e.answer,
        };
        seen.push((uri, body));
        send.send_response(
            Response::builder()
                .status(e.status)
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap(),
        );
    }
    // Nothing more may be asked.
    if let Ok(Some((request, _))) =
        tokio::time::timeout(Duration::from_millis(200), handle.next_request()).await
    {
        panic!("unexpected request {} {}", request.method(), request.uri());
    }
    seen
}

/// A list answer of `kind` objects.
pub fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": format!("{kind}List"), "metadata": {"resourceVersion": "1"}, "items": items})
}

/// The condition of `type_` in a status (it must be there).
pub fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap()
}
