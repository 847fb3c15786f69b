"""Tidemark's Kubernetes API stand-in and Job executor (test support, not production code).

The API server is built on kmock (``kmock.KubernetesScaffold``): kmock provides the HTTP
serving, request parsing, the reaction DSL (usable for fault injection) and the bundled
discovery data of the built-in kinds; this package adds the stateful API semantics that
kube-rs and kubectl rely on.
"""

__version__ = "0.1.0"
