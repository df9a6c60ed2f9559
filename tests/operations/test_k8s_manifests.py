"""deploy/k8s: every manifest is a valid Kubernetes object, and the project's rules hold.

No cluster runs here, so the objects are checked against the OpenAPI-derived JSON schemas
that kubernetes-validate ships inside its wheel (offline), in strict mode, where a field
the API does not know fails as a typo would. The rest is what a schema cannot say: probes
where the app answers them, resources on every container, non-root and read-only pods,
one beat, and a worker for every queue the task routes name.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SECRET_TEMPLATE = "secret.template.yaml"
IMAGE = "registry.example/mpesa-push:TAG"
# The oldest Kubernetes these manifests claim, and the newest schemas the package ships.
VERSIONS = ("1.30", "1.37")


def _objects() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((path.name, document))
    return found


OBJECTS = _objects()


def _of_kind(kind: str) -> list[dict]:
    return [obj for _name, obj in OBJECTS if obj["kind"] == kind]


def _named(kind: str, name: str) -> dict:
    matches = [obj for obj in _of_kind(kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def _workloads() -> list[dict]:
    return _of_kind("Deployment") + _of_kind("Job")


def _containers(workload: dict) -> list[dict]:
    pod = workload["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod["containers"]


def _main_container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _is_worker(deployment: dict) -> bool:
    return deployment["spec"]["template"]["metadata"]["labels"].get(
        "app.kubernetes.io/component") == "worker"


def _queues_consumed(deployment: dict) -> set[str]:
    command = _main_container(deployment)["command"]
    assert command[:4] == ["celery", "-A", "config", "worker"], command
    return set(command[command.index("-Q") + 1].split(","))


def _config() -> dict:
    return _named("ConfigMap", "mpesa-push-config")["data"]


def _secret_template() -> dict:
    (document,) = yaml.safe_load_all((K8S / SECRET_TEMPLATE).read_text())
    return document


def _port_number(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container.get("ports", []) if p["name"] == port]
    return number


# --- the schemas ---------------------------------------------------------------------------

def test_the_manifests_hold_every_kind_the_deployment_needs():
    kinds = {obj["kind"] for _name, obj in OBJECTS}
    assert {"ConfigMap", "Secret", "Deployment", "Job", "Service", "PodDisruptionBudget",
            "HorizontalPodAutoscaler"} <= kinds


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("filename", "obj"), OBJECTS,
                         ids=[f"{name}:{obj['kind']}/{obj['metadata']['name']}"
                              for name, obj in OBJECTS])
def test_every_manifest_is_a_valid_kubernetes_object(filename, obj, version):
    assert kubernetes_validate.validate(obj, version, strict=True) == version


def test_a_misspelt_field_fails_the_schema_check():
    web = yaml.safe_load(yaml.safe_dump(_named("Deployment", "web")))
    container = _main_container(web)
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(web, VERSIONS[-1], strict=True)


def test_a_value_of_the_wrong_type_fails_the_schema_check():
    web = yaml.safe_load(yaml.safe_dump(_named("Deployment", "web")))
    _main_container(web)["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk - {SECRET_TEMPLATE}


# --- every workload -------------------------------------------------------------------------

@pytest.mark.parametrize("workload", _workloads(), ids=lambda w: w["metadata"]["name"])
def test_every_container_has_requests_and_limits(workload):
    for container in _containers(workload):
        resources = container["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), (container["name"], bound)


@pytest.mark.parametrize("workload", _workloads(), ids=lambda w: w["metadata"]["name"])
def test_every_pod_runs_as_non_root_on_a_read_only_root_without_capabilities(workload):
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    for container in _containers(workload):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]
        assert container["image"] == IMAGE, container["name"]


@pytest.mark.parametrize("workload", _workloads(), ids=lambda w: w["metadata"]["name"])
def test_every_container_reads_the_config_map_and_the_secret(workload):
    secret = _secret_template()["metadata"]["name"]
    for container in _containers(workload):
        sources = container["envFrom"]
        assert {"configMapRef": {"name": "mpesa-push-config"}} in sources, container["name"]
        assert {"secretRef": {"name": secret}} in sources, container["name"]


# --- web -------------------------------------------------------------------------------------

def test_web_is_ready_on_readyz_and_alive_on_healthz_on_the_internal_listener():
    container = _main_container(_named("Deployment", "web"))
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz"
    assert liveness["httpGet"]["path"] == "/healthz"
    internal = int(_config()["INTERNAL_PORT"])
    # The internal listener skips the Host check the kubelet's pod-address Host would fail.
    for probe in (readiness, liveness, container["startupProbe"]):
        assert _port_number(container, probe["httpGet"]["port"]) == internal


def test_the_public_service_never_exposes_the_internal_listener():
    container = _main_container(_named("Deployment", "web"))
    public = _named("Service", "web")
    targets = {_port_number(container, port["targetPort"]) for port in public["spec"]["ports"]}
    assert targets == {8000}
    assert int(_config()["INTERNAL_PORT"]) not in targets


# --- workers and beat ------------------------------------------------------------------------

def test_every_queue_the_task_routes_name_has_a_worker_consuming_it():
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    routed.add(settings.CELERY_TASK_DEFAULT_QUEUE)
    workers = [deployment for deployment in _of_kind("Deployment") if _is_worker(deployment)]
    consumed = [queue for deployment in workers for queue in _queues_consumed(deployment)]
    assert sorted(consumed) == sorted(routed)  # each queue once: one Deployment per queue


@pytest.mark.parametrize("deployment", [d for d in _of_kind("Deployment") if _is_worker(d)],
                         ids=lambda d: d["metadata"]["name"])
def test_every_worker_has_a_liveness_probe_on_its_metrics_listener(deployment):
    container = _main_container(deployment)
    probe = container["livenessProbe"]["httpGet"]
    assert _port_number(container, probe["port"]) == int(_config()["WORKER_METRICS_PORT"])
    pod = deployment["spec"]["template"]["spec"]
    # Warm shutdown lets the running tasks finish before the kubelet kills the pod.
    assert pod["terminationGracePeriodSeconds"] > settings.CELERY_TASK_TIME_LIMIT


def test_every_deployment_but_beat_has_a_liveness_probe():
    missing = [d["metadata"]["name"] for d in _of_kind("Deployment")
               if "livenessProbe" not in _main_container(d)]
    assert missing == ["beat"]


def test_there_is_exactly_one_beat_replaced_never_rolled():
    beats = [d for d in _of_kind("Deployment") if "beat" in _main_container(d).get("command", [])]
    assert [d["metadata"]["name"] for d in beats] == ["beat"]
    assert beats[0]["spec"]["replicas"] == 1
    assert beats[0]["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" not in {hpa["spec"]["scaleTargetRef"]["name"]
                          for hpa in _of_kind("HorizontalPodAutoscaler")}


def test_the_migrations_job_runs_migrate():
    (job,) = _of_kind("Job")
    assert _main_container(job)["command"][:3] == ["python", "manage.py", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


# --- objects that point at each other -------------------------------------------------------

def _pod_labels() -> list[dict]:
    return [d["spec"]["template"]["metadata"]["labels"] for d in _of_kind("Deployment")]


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("obj", _of_kind("Service") + _of_kind("PodDisruptionBudget"),
                         ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_selector_selects_some_pods(obj):
    selector = obj["spec"]["selector"]
    selector = selector.get("matchLabels", selector)
    assert any(_selects(selector, labels) for labels in _pod_labels())


@pytest.mark.parametrize("hpa", _of_kind("HorizontalPodAutoscaler"),
                         ids=lambda h: h["metadata"]["name"])
def test_every_autoscaler_scales_a_deployment_without_a_fixed_count(hpa):
    target = _named("Deployment", hpa["spec"]["scaleTargetRef"]["name"])
    # A replicas field would set the count back at every apply.
    assert "replicas" not in target["spec"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


# --- configuration -------------------------------------------------------------------------

def _required_in_production() -> set[str]:
    """The variables the README's configuration table marks required in production."""
    names = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `") and "required in production" in line:
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_variable_production_requires_is_in_the_config_map_or_the_secret():
    required = _required_in_production()
    assert {"SECRET_KEY", "DATABASE_URL", "INTERNAL_PORT"} <= required  # the table was read
    provided = set(_config()) | set(_secret_template()["stringData"])
    assert required - provided == set()
    assert _config()["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_the_secret_template_holds_names_only_and_none_of_them_in_the_config_map():
    values = _secret_template()["stringData"]
    assert set(values.values()) == {""}
    assert set(values) & set(_config()) == set()
