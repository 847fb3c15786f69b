"""The chart's monitoring objects: the ServiceMonitor, the PrometheusRule (rendered from the
plain rules file files/prometheus-rules.yaml, the one source of the alerts), and the Grafana
dashboard ConfigMap. The rules and the dashboard's queries run on a real Prometheus in
scripts/test (promtool test rules; tests/tests/e2e_alerts.rs)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import kubernetes_validate
import pytest
import yaml

from conftest import CHART, REPO, Cluster, manifest_objects

RULES_FILE = CHART / "files" / "prometheus-rules.yaml"
DASHBOARD_FILE = CHART / "files" / "grafana-dashboard.json"
RULE_TESTS = REPO / "tests" / "prometheus" / "alerts.test.yaml"
MONITORING_DOC = REPO / "docs" / "monitoring.md"
RUNBOOK_PREFIX = "https://github.com/tidemark-dev/tidemark/blob/main/docs/monitoring.md#"

MONITORING_CRDS = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor, listKind: ServiceMonitorList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheusrules.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: PrometheusRule, plural: prometheusrules, singular: prometheusrule, listKind: PrometheusRuleList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def release_ns() -> str:
    return "tm-" + uuid.uuid4().hex[:8]


def file_rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(RULES_FILE.read_text())
    return {r["alert"]: r for group in doc["groups"] for r in group["rules"]}


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a page."""
    anchors = set()
    for line in markdown.splitlines():
        m = re.match(r"#{1,6} (.*)", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


@pytest.fixture(scope="module")
def monitoring_install(cluster: Cluster) -> tuple[str, list[dict[str, Any]]]:
    # Stand-ins for the Prometheus Operator's CRDs (the chart only needs the kinds to exist).
    cluster.kubectl("apply", "--validate=false", "-f", "-", stdin=MONITORING_CRDS)
    ns = release_ns()
    values = {
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "prometheusRule": {
                "enabled": True,
                "labels": {"release": "prometheus"},
                "additionalLabels": {"team": "dba", "severity": "ignored"},
                "severity": {"TidemarkPruneFailed": "info"},
                "disabled": ["TidemarkOperatorNoLeader"],
            },
            "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Backups"}},
        }
    }
    return ns, manifest_objects(cluster.install(ns, ns, values))


def test_service_monitor_scrapes_the_metrics_service(cluster: Cluster, monitoring_install: tuple[str, list[dict[str, Any]]]) -> None:
    ns, objects = monitoring_install
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [ns]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics" and endpoint["honorLabels"] is True
    assert cluster.get("servicemonitor", monitor["metadata"]["name"], "-n", ns)["spec"] == monitor["spec"]


def test_the_prometheus_rule_is_the_rules_file_with_the_chart_settings(
    cluster: Cluster, monitoring_install: tuple[str, list[dict[str, Any]]]
) -> None:
    ns, objects = monitoring_install
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    rendered = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    expected = file_rules()
    assert set(rendered) == set(expected) - {"TidemarkOperatorNoLeader"}
    for name, got in rendered.items():
        want = expected[name]
        # Everything but the labels is the file's, byte for byte (Prometheus' own
        # {{ $labels... }} templates survive Helm).
        assert {k: v for k, v in got.items() if k != "labels"} == {k: v for k, v in want.items() if k != "labels"}, name
        severity = "info" if name == "TidemarkPruneFailed" else want["labels"]["severity"]
        assert got["labels"] == {"team": "dba", "severity": severity}, name
    assert cluster.get("prometheusrule", rule["metadata"]["name"], "-n", ns)["spec"] == rule["spec"]


def test_every_rule_says_what_happened_and_links_its_runbook() -> None:
    anchors = github_anchors(MONITORING_DOC.read_text())
    for name, rule in file_rules().items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        url = annotations["runbook_url"]
        assert url.startswith(RUNBOOK_PREFIX), url
        anchor = url.removeprefix(RUNBOOK_PREFIX)
        assert anchor == name.lower(), f"{name}: the runbook section is named after the alert"
        assert anchor in anchors, f"{name}: docs/monitoring.md has no section #{anchor}"


def test_every_rule_has_a_firing_case_in_the_promtool_tests() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == ["../../charts/tidemark/files/prometheus-rules.yaml"]
    fired = {
        case["alertname"]
        for group in tests["tests"]
        for case in group.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert set(file_rules()) <= fired, f"no firing case for {set(file_rules()) - fired}"


def test_rules_use_only_metrics_the_operator_defines() -> None:
    source = "".join(p.read_text() for p in (REPO / "operator" / "src" / "metrics").rglob("*.rs"))
    for name, rule in file_rules().items():
        for metric in re.findall(r"\btidemark_[a-z_]+", rule["expr"]):
            assert f'"{metric}"' in source, f"{metric} (alert {name}) is not a metric the operator defines"


def test_the_dashboard_config_map_holds_the_dashboard(monitoring_install: tuple[str, list[dict[str, Any]]]) -> None:
    ns, objects = monitoring_install
    config_map = one(objects, "ConfigMap")
    assert config_map["metadata"]["namespace"] == ns
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Backups"}
    (key,) = config_map["data"]
    assert key.endswith(".json")
    assert json.loads(config_map["data"][key]) == json.loads(DASHBOARD_FILE.read_text())
    kubernetes_validate.validate(config_map, kubernetes_validate.latest_version(), strict=True)


def test_the_dashboard_is_off_by_default(cluster: Cluster) -> None:
    ns = release_ns()
    objects = manifest_objects(cluster.install(ns, ns, {}))
    assert not [o for o in objects if o["kind"] in {"ConfigMap", "PrometheusRule", "ServiceMonitor"}]


def test_the_dashboard_covers_what_the_docs_promise() -> None:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in [
        "tidemark_backup_last_success_timestamp_seconds",
        "tidemark_backup_size_bytes",
        "tidemark_backup_duration_seconds",
        "tidemark_backup_consecutive_failures",
        "tidemark_runs_total",
        "tidemark_backup_oldest_restorable_timestamp_seconds",
        "tidemark_verification_passed",
        "tidemark_restore_test_passed",
        "tidemark_restore_test_duration_seconds",
        "tidemark_restore_request_duration_seconds",
    ]:
        assert metric in exprs, metric
    assert "charts/tidemark/files/grafana-dashboard.json" in MONITORING_DOC.read_text()
