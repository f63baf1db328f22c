"""The deployment files agree with the code: every command names a real module or service,
every variable set is one the config reads, and the broker definitions are what the code
declares (and load into a real RabbitMQ without a conflict)."""

import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from kombu import Connection

from services.kernel import auth, topology
from services.kernel.config import ROOT
from services.kernel.runner import service_class
from tests.conftest import AUTH, RABBIT_MGMT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DEFINITIONS = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
K8S = ROOT / "deploy/k8s"
# Variables read outside the YAML: the config file's path, and the port health checks probe.
KERNEL_ENV = {"LIANXIN_CONFIG", "PORT"}


def is_service(name: str) -> bool:
    try:
        return service_class(name).name == name
    except LookupError:
        return False


def config_env_names(path: Path) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", path.read_text()))


def our_compose_services():
    return {name: svc for name, svc in COMPOSE["services"].items() if svc.get("build")}


def check_command(words: list[str]) -> None:
    if words[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(words[2]) is not None, words
    elif words[0] == "migrate":
        assert all(is_service(w) for w in words[1:]), words
    else:
        assert is_service(words[0]), words


def test_every_compose_command_names_a_real_service_or_module():
    services = our_compose_services()
    assert {"registry", "routing", "reporting", "migrate", "demo"} <= set(services)
    intakes = [n for n, s in services.items() if s.get("command") == ["intake"]]
    assert len(intakes) >= 2, "intake runs as more than one container"
    for svc in services.values():
        check_command(svc.get("entrypoint") or svc["command"])


def test_every_variable_compose_sets_is_read_by_the_config():
    for name, svc in our_compose_services().items():
        env = svc.get("environment") or {}
        config = ROOT / env["LIANXIN_CONFIG"]
        assert config.exists(), name
        unknown = set(env) - config_env_names(config) - KERNEL_ENV
        assert not unknown, f"{name} sets variables nothing reads: {unknown}"


def test_the_broker_account_is_least_privilege_and_its_password_comes_from_outside():
    """The services' broker account cannot use the management API (no tag), its rights cover
    one vhost, and compose takes its password from the environment: the shipped one is refused
    in production, so a deployment that forgets to set it does not start."""
    [user] = DEFINITIONS["users"]
    assert user["tags"] == [] and user["name"] == "lianxin"
    assert [p["vhost"] for p in DEFINITIONS["permissions"]] == ["/"]
    for name, svc in our_compose_services().items():
        uri = (svc.get("environment") or {})["AMQP_URI"]
        assert "${LIANXIN_BROKER_PASSWORD:?" in uri, name
        shipped = uri.replace(uri[uri.index("${") : uri.index("}") + 1], "lianxin")
        config = {"security": {"environment": "production"}, "AMQP_URI": shipped}
        assert "AMQP_URI" in " ".join(auth.weak_settings(config)), name


def test_intake_groups_together_cover_every_station_once():
    from services.intake.stations import station_selection

    groups = [
        svc["environment"]["INTAKE_STATIONS"]
        for svc in our_compose_services().values()
        if svc.get("command") == ["intake"]
    ]
    codes = [f"s{i:03d}" for i in range(300)] + ["gwm", "jnl", "jql", "ytl", "sp"]
    for code in codes:
        assert sum(station_selection(g).serves(code) for g in groups) == 1, code


def test_the_entry_address_sends_each_prefix_to_a_real_service_port():
    conf = (ROOT / "deploy/nginx/lianxin.conf").read_text()
    targets = re.findall(r"(?:proxy_pass http://|server )([a-z0-9-]+)(?::(\d+))?", conf)
    services = COMPOSE["services"]
    upstreams = set(re.findall(r"upstream ([a-z0-9-]+)", conf))  # groups of the servers below
    for host, port in targets:
        if host in upstreams:
            continue
        assert host in services, host
        assert f"{port}:{port}" in services[host]["ports"], (host, port)


def test_the_entry_address_does_not_publish_metrics_and_every_service_knows_the_others():
    conf = (ROOT / "deploy/nginx/lianxin.conf").read_text()
    hidden = re.search(r"location ~ (\S+) \{ return 404; \}", conf).group(1)
    for service in ("registry", "intake", "routing", "reporting"):
        assert re.match(hidden, f"/{service}/metrics"), service
        assert not re.match(hidden, f"/{service}/health")
    # pages send people to the registry's sign-in page and back: every public address is set
    env = COMPOSE["x-service"]["environment"]
    for service in ("registry", "intake", "routing", "reporting"):
        assert env[f"{service.upper()}_PUBLIC_URL"] == f"http://localhost:8080/{service}"


def topology_part(doc: dict) -> dict:
    def key(items, fields):
        return sorted(json.dumps({f: i.get(f) for f in fields}, sort_keys=True) for i in items)

    return {
        "exchanges": key(doc["exchanges"], ["name", "type", "durable", "arguments"]),
        "queues": key(doc["queues"], ["name", "durable", "arguments"]),
        "bindings": key(doc["bindings"], ["source", "destination", "routing_key", "arguments"]),
    }


def test_the_definitions_file_is_exactly_what_the_code_declares():
    from services.kernel import config

    delays = config.load(ROOT / "deploy/config/compose.yaml")["retry"]["delays_ms"]
    assert topology_part(DEFINITIONS) == topology_part(topology.definitions(delays))
    conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text()
    assert "definitions.local.path = /etc/rabbitmq/definitions.json" in conf
    mounts = COMPOSE["services"]["rabbitmq"]["volumes"]
    assert "./deploy/rabbitmq/definitions.json:/etc/rabbitmq/definitions.json:ro" in mounts


def test_the_definitions_load_into_rabbitmq_and_the_code_agrees_with_them(vhost):
    name, amqp_uri = vhost
    body = {
        k: [{f: v for f, v in item.items() if f != "vhost"} for item in DEFINITIONS[k]]
        for k in ("exchanges", "queues", "bindings")
    }
    r = requests.post(
        f"{RABBIT_MGMT}/api/definitions/{quote(name, safe='')}", json=body, auth=AUTH, timeout=30
    )
    assert r.status_code in (200, 201, 204), r.text
    from services.kernel import config

    delays = config.load(ROOT / "deploy/config/compose.yaml")["retry"]["delays_ms"]
    with Connection(amqp_uri) as conn:
        topology.declare(conn, delays)  # a mismatch in any argument would fail here
    queues = requests.get(
        f"{RABBIT_MGMT}/api/queues/{quote(name, safe='')}", auth=AUTH, timeout=10
    ).json()
    assert {q["name"]: q["type"] for q in queues} == {
        q["name"]: "quorum" for q in DEFINITIONS["queues"]
    }


def k8s_docs():
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            yield path, doc


@pytest.mark.parametrize(
    "path,doc",
    [(p, d) for p, d in k8s_docs() if d["kind"] in ("Deployment", "Job")],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_every_kubernetes_workload_runs_a_real_service_with_known_variables(path, doc):
    known = config_env_names(ROOT / "deploy/config/compose.yaml") | KERNEL_ENV
    for container in doc["spec"]["template"]["spec"]["containers"]:
        if "args" in container:
            check_command(container["args"])
        names = {e["name"] for e in container.get("env", [])}
        assert names <= known, f"{path.name}: {names - known}"


def test_every_kustomization_names_files_that_exist():
    for path, doc in k8s_docs():
        if doc.get("kind") != "Kustomization":
            continue
        for entry in doc.get("resources", []):
            assert (path.parent / entry).exists(), (path, entry)
        for patch in doc.get("patches", []):
            assert (path.parent / patch["path"]).exists(), (path, patch)
        for gen in doc.get("configMapGenerator", []):
            for f in gen["files"]:
                assert (path.parent / f.split("=", 1)[-1]).exists(), (path, f)


def one_shot_services() -> set[str]:
    """Our compose services that run once and exit (migrate, demo): every one built from the
    image whose command is not a service, and whatever others wait to *complete*."""
    found = {
        name
        for name, svc in our_compose_services().items()
        if svc.get("entrypoint") or not is_service(svc["command"][0])
    }
    for svc in COMPOSE["services"].values():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, dict):  # a plain list waits for nothing to complete
            found |= {
                name
                for name, cond in deps.items()
                if cond.get("condition") == "service_completed_successfully"
            }
    return found


def test_every_long_running_compose_service_is_restarted_and_one_shots_retry_only_on_failure():
    one_shots = one_shot_services()
    assert {"migrate", "demo"} <= one_shots
    for name, svc in COMPOSE["services"].items():
        policy = svc.get("restart")
        if name in one_shots:  # `always` would run the migration again and again
            assert policy is None or str(policy).startswith("on-failure"), (name, policy)
        else:
            assert policy in ("unless-stopped", "always"), (name, policy)
    for name, svc in our_compose_services().items():
        if name in one_shots:
            continue
        probe = " ".join(svc["healthcheck"]["test"])
        assert "/ready" in probe and "PORT" in probe, name
        assert svc["environment"]["PORT"], name


def k8s_documents() -> list[tuple[Path, dict]]:
    return [
        (path, doc)
        for path in sorted(K8S.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def test_every_k8s_deployment_has_a_liveness_probe_on_health_and_a_readiness_probe_on_ready():
    deployments = [
        (path, doc)
        for path, doc in k8s_documents()
        if doc.get("kind") == "Deployment" and "selector" in doc.get("spec", {})
    ]  # full Deployments; the overlays' patches (no selector) change only what they name
    names = {doc["metadata"]["name"] for _, doc in deployments}
    assert {"registry", "intake", "intake-1", "routing", "reporting"} <= names
    for path, doc in deployments:
        for container in doc["spec"]["template"]["spec"]["containers"]:
            where = f"{path.relative_to(ROOT)}: {container['name']}"
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            ports = {p["containerPort"] for p in container["ports"]}
            live, ready = container.get("livenessProbe"), container.get("readinessProbe")
            assert live and ready, f"{where} lacks a probe"
            assert live["httpGet"]["path"] == "/health", where
            assert ready["httpGet"]["path"] == "/ready", where
            for probe in (live, ready):
                assert probe["httpGet"]["port"] in ports, where
                assert str(probe["httpGet"]["port"]) == env["PORT"], where
    jobs = [doc for _, doc in k8s_documents() if doc.get("kind") == "Job"]
    assert jobs and all(j["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure" for j in jobs)
