"""The Kubernetes target: the same service as Deployment, Service, HorizontalPodAutoscaler,
ConfigMap (+ PodDisruptionBudget, Ingress) with secrets as references, applied with kubectl.

- `names.py`: Kubernetes' name and label rules (shared by the `kubernetes` check and the renderer)
- `resources.py`: container requests/limits from `compute`; Kubernetes quantities
- `manifests.py`: pure, project -> manifest dicts
- `render.py`: pure, project -> `{"<endpoint>.yaml": bytes}` (`render_kubernetes`)
- `kubectl.py`: the process edge, `kubectl apply [--dry-run=client] -f`
"""
