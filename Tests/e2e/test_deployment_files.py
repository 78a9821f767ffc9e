"""Checks the deployment files (Dockerfile, docker-compose.yml, Prometheus and Grafana provisioning,
the Grafana dashboard, the example configs) by parsing them, because no Docker engine runs where
the tests run. Where a file makes a claim about the gateway (ENTRYPOINT flags, the config the
compose file passes, the metric families the dashboard queries), the claim is checked against
the real `ultragate` binary."""
import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import BINARY, ROOT, Gateway

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY = ROOT / "deploy"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
DATASOURCES_YML = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARDS_YML = DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARD_JSON = DEPLOY / "grafana" / "dashboards" / "ultragate.json"
GATEWAY_METRICS_SWIFT = ROOT / "Sources" / "UltraGate" / "Metrics" / "GatewayMetrics.swift"
PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
# Labels Prometheus itself attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}


# ---------------------------------------------------------------------------------------------
# Parsing helpers


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def compose():
    return load_yaml(COMPOSE)


def parse_port(spec):
    """Short port syntax `HOST:CONTAINER` (optionally `IP:HOST:CONTAINER`, `/proto`) or long syntax."""
    if isinstance(spec, dict):
        return int(spec["published"]), int(spec["target"])
    parts = str(spec).split("/")[0].split(":")
    return int(parts[-2]), int(parts[-1])


def parse_volume(spec):
    """(source, target, read_only) of a short- or long-syntax service volume."""
    if isinstance(spec, dict):
        return spec.get("source"), spec["target"], bool(spec.get("read_only", False))
    parts = spec.split(":")
    if len(parts) == 1:
        return None, parts[0], False
    mode = parts[2] if len(parts) > 2 else ""
    return parts[0], parts[1], "ro" in mode.split(",")


def is_bind_source(source):
    return source is not None and (source.startswith(".") or source.startswith("/"))


def repo_path(source):
    return (ROOT / source).resolve()


def container_path_for(service, repo_file):
    """Where a repo file appears inside a service's container, through a file or directory bind mount."""
    repo_file = repo_file.resolve()
    for spec in service.get("volumes", []):
        source, target, _ = parse_volume(spec)
        if not is_bind_source(source):
            continue
        src = repo_path(source)
        if src == repo_file:
            return target
        if src.is_dir() and src in repo_file.parents:
            return target.rstrip("/") + "/" + repo_file.relative_to(src).as_posix()
    return None


def dockerfile_instructions():
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    logical, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append(current)
        current = ""
    assert not current, "Dockerfile ends inside a line continuation"
    out = []
    for line in logical:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_stages():
    """Stages as dicts: base image (global ARG defaults substituted), name and instructions."""
    args, stages = {}, []
    for instr, rest in dockerfile_instructions():
        if instr == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif instr == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"base": base, "name": name, "instructions": []})
        else:
            assert stages, f"{instr} before the first FROM"
            stages[-1]["instructions"].append((instr, rest))
    return stages


def apt_installed(stage):
    """Packages named by `apt-get install` in a stage's RUN instructions."""
    packages = set()
    for instr, rest in stage["instructions"]:
        if instr != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", rest):
            words = shlex.split(command)
            if "apt-get" in words and "install" in words:
                packages |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    return packages


def json_form(rest):
    value = json.loads(rest)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"not exec form: {rest}"
    return value


def only(stage, instr):
    found = [rest for i, rest in stage["instructions"] if i == instr]
    assert len(found) == 1, f"expected one {instr} in stage {stage['name'] or stage['base']}, found {len(found)}"
    return found[0]


def dockerignore_patterns():
    lines = [l.strip() for l in DOCKERIGNORE.read_text().splitlines()]
    return [l.rstrip("/") for l in lines if l and not l.startswith("#")]


def ignored_by_docker(rel_path, patterns):
    """Docker's rule: a path is excluded when it or one of its parent folders matches a pattern
    (`**` matches any number of folders); a later `!pattern` re-includes."""
    parts = Path(rel_path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern[1:] if negate else pattern
        regex = re.escape(p).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, c) for c in candidates):
            excluded = not negate
    return excluded


# ---------------------------------------------------------------------------------------------
# Metric families: from a live scrape of /metrics when the gateway serves it, else from the source


def source_families():
    """{family: (kind, labels)} from the `r.<kind>Family("name", …, labelNames: [...])` calls."""
    text = GATEWAY_METRICS_SWIFT.read_text()
    families = {}
    for m in re.finditer(r'\.(counter|gauge|histogram)Family\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"(.*)', text):
        labels = re.search(r"labelNames:\s*\[([^\]]*)\]", m.group(3))
        names = re.findall(r'"([^"]+)"', labels.group(1)) if labels else []
        families[m.group(2)] = (m.group(1), set(names))
    assert len(families) >= 10, f"parsed too few families from {GATEWAY_METRICS_SWIFT}: {families}"
    return families


def scrape_families(text):
    """{family: kind} from the `# TYPE` lines of Prometheus text exposition."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M)}


@pytest.fixture(scope="module")
def live_metrics():
    """The gateway's own /metrics text (the test fails when it is not served)."""
    g = Gateway()
    try:
        r = requests.get(g.base_url + "/metrics", timeout=10)
        assert r.status_code == 200 and "# TYPE" in r.text, f"/metrics is not served: {r.status_code}"
        return r.text
    finally:
        g.close()


@pytest.fixture(scope="module")
def metric_families(live_metrics):
    """{family: kind}: what a live gateway exposes (the dashboard's contract)."""
    return scrape_families(live_metrics)


def test_source_parse_matches_live_scrape(live_metrics):
    live = scrape_families(live_metrics)
    for name, (kind, _) in source_families().items():
        assert live.get(name) == kind, f"{name} ({kind}) is defined in GatewayMetrics.swift but scraped as {live.get(name)}"


# ---------------------------------------------------------------------------------------------
# docker-compose.yml


def test_compose_services_and_ports():
    services = compose()["services"]
    assert set(services) == {"ultragate", "prometheus", "grafana"}
    expected = {"ultragate": (8080, 8080), "prometheus": (9090, 9090), "grafana": (3000, 3000)}
    for name, port in expected.items():
        assert port in [parse_port(p) for p in services[name].get("ports", [])], name
        # Safe by default: published on the host's loopback only (the gateway's address can be
        # opted into another interface through ULTRAGATE_BIND_ADDRESS, defaulting to loopback).
        for spec in services[name]["ports"]:
            host_ip = str(spec).rsplit(":", 2)[0]
            assert host_ip in ("127.0.0.1", "${ULTRAGATE_BIND_ADDRESS:-127.0.0.1}"), f"{name} publishes {spec}"
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    assert services["grafana"]["image"].startswith("grafana/grafana")


def test_compose_builds_the_gateway_from_the_repo_dockerfile():
    build = compose()["services"]["ultragate"]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert repo_path(context) == ROOT
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE.resolve()


def test_compose_keeps_the_cache_on_a_named_volume():
    doc = compose()
    declared = set((doc.get("volumes") or {}).keys())
    service = doc["services"]["ultragate"]
    named = {target: source for source, target, _ in map(parse_volume, service["volumes"]) if source and not is_bind_source(source)}
    assert "/var/lib/ultragate" in named, "the cache directory must be on a named volume"
    assert named["/var/lib/ultragate"] in declared, "the cache volume must be declared under top-level `volumes`"
    # The same directory the image declares as a volume and passes as --cache-dir.
    runtime = dockerfile_stages()[-1]
    entrypoint = json_form(only(runtime, "ENTRYPOINT"))
    assert entrypoint[entrypoint.index("--cache-dir") + 1] == "/var/lib/ultragate"
    volumes = [v for i, rest in runtime["instructions"] if i == "VOLUME" for v in (json_form(rest) if rest.startswith("[") else rest.split())]
    assert "/var/lib/ultragate" in volumes
    # Every named volume a service uses is declared.
    for name, svc in doc["services"].items():
        for source, _, _ in map(parse_volume, svc.get("volumes", [])):
            if source and not is_bind_source(source):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_compose_reads_provider_keys_from_an_optional_env_file():
    service = compose()["services"]["ultragate"]
    entries = service["env_file"]
    entries = entries if isinstance(entries, list) else [entries]
    env_entries = [e for e in entries if (e if isinstance(e, str) else e["path"]) in (".env", "./.env")]
    assert env_entries, "ultragate must read ./.env"
    assert all(isinstance(e, dict) and e.get("required") is False for e in env_entries), \
        "a missing .env must not stop `docker compose up` (long syntax with required: false)"
    # .env.example lists the three keys, empty, and is what the README tells people to copy.
    example = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    for key in PROVIDER_KEYS:
        assert example.get(key) == "", f"{key} must be in .env.example with an empty value"
    # Every variable the compose file interpolates is documented there too.
    for var in set(re.findall(r"\$\{(\w+)", COMPOSE.read_text())):
        assert var in example, f"${{{var}}} is used in docker-compose.yml but not in .env.example"


def test_compose_bind_mounts_exist_in_the_repo():
    for name, service in compose()["services"].items():
        for spec in service.get("volumes", []):
            source, target, read_only = parse_volume(spec)
            if is_bind_source(source):
                assert repo_path(source).exists(), f"{name} mounts {source}, which is not in the repo"
                assert ROOT in repo_path(source).parents or repo_path(source) == ROOT, source
                assert read_only, f"{name} should mount {source} read-only"
                assert target.startswith("/")


def test_compose_passes_the_mounted_gateway_config():
    service = compose()["services"]["ultragate"]
    command = service["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    config_in_container = command[command.index("--config") + 1]
    assert container_path_for(service, DEPLOY / "ultragate.json") == config_in_container


def test_prometheus_scrapes_the_gateway():
    doc = compose()
    config = load_yaml(PROMETHEUS_YML)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["ultragate"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job.get("scheme", "http") == "http"
    assert job["scrape_interval"] == "5s"
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == ["ultragate:8080"]
    host, port = targets[0].split(":")
    assert host in doc["services"], "the scrape target must be the compose service name"
    container_ports = [parse_port(p)[1] for p in doc["services"][host]["ports"]]
    assert int(port) in container_ports
    # Prometheus is started with this file.
    prom = doc["services"]["prometheus"]
    flag = [a for a in prom.get("command", []) if a.startswith("--config.file=")]
    mounted_at = container_path_for(prom, PROMETHEUS_YML)
    assert mounted_at == (flag[0].split("=", 1)[1] if flag else "/etc/prometheus/prometheus.yml")


def test_prometheus_config_passes_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    # promtool checks that the credentials file exists: compose mounts it from ULTRAGATE_METRICS_KEY,
    # so the check runs on a copy pointing at a temporary one.
    config = load_yaml(PROMETHEUS_YML)
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "metrics_key"
        key_file.write_text("metrics-key-0123456789")
        for job in config["scrape_configs"]:
            if "authorization" in job:
                job["authorization"]["credentials_file"] = str(key_file)
        copy = Path(tmp) / "prometheus.yml"
        copy.write_text(yaml.safe_dump(config))
        result = subprocess.run([promtool, "check", "config", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Grafana provisioning


def grafana_datasource():
    sources = load_yaml(DATASOURCES_YML)
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    return source


def test_grafana_provisioning_is_mounted_where_grafana_reads_it():
    grafana = compose()["services"]["grafana"]
    assert container_path_for(grafana, DATASOURCES_YML).startswith("/etc/grafana/provisioning/datasources/")
    assert container_path_for(grafana, DASHBOARDS_YML).startswith("/etc/grafana/provisioning/dashboards/")
    providers = load_yaml(DASHBOARDS_YML)
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    dashboard_in_container = container_path_for(grafana, DASHBOARD_JSON)
    assert dashboard_in_container is not None, "the dashboard JSON is not mounted into grafana"
    assert dashboard_in_container.startswith(provider["options"]["path"].rstrip("/") + "/")
    env = grafana.get("environment", {})
    home = env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home == dashboard_in_container


def test_grafana_datasource_points_at_the_compose_prometheus():
    source = grafana_datasource()
    services = compose()["services"]
    assert source["type"] == "prometheus"
    assert source["access"] == "proxy"
    m = re.fullmatch(r"http://([\w.-]+):(\d+)/?", source["url"])
    assert m and m.group(1) in services
    assert int(m.group(2)) in [parse_port(p)[1] for p in services[m.group(1)]["ports"]]
    assert source.get("uid"), "a fixed uid lets the dashboard refer to it"


# ---------------------------------------------------------------------------------------------
# The dashboard


def dashboard():
    return json.loads(DASHBOARD_JSON.read_text())


def data_panels(d):
    out = []
    for panel in d["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def grafana_to_promql(expr):
    """Replaces Grafana's template variables by values PromQL accepts."""
    return expr.replace("$__rate_interval", "1m").replace("$__range", "1h").replace("$__interval", "15s").replace("$model", ".*")


def test_dashboard_panels_have_datasource_and_targets():
    d = dashboard()
    assert 36 <= d["schemaVersion"] <= 41
    assert d["uid"] and d["title"]
    uid = grafana_datasource()["uid"]
    panels = data_panels(d)
    assert len(panels) >= 10
    ids = [p["id"] for p in d["panels"] + [p for r in d["panels"] if r["type"] == "row" for p in r.get("panels", [])]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no targets"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for t in panel["targets"]:
            assert t["expr"].strip(), panel["title"]
            assert t.get("datasource", panel["datasource"])["uid"] == uid


def test_dashboard_layout_fits_the_grid_without_overlaps():
    boxes = []
    for panel in dashboard()["panels"] + [p for r in dashboard()["panels"] if r["type"] == "row" for p in r.get("panels", [])]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, panel["title"]
        for title, o in boxes:
            overlap = g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]
            assert not overlap, f"{panel['title']} overlaps {title}"
        boxes.append((panel["title"], g))


def series_in(expr):
    """(series name, label names in its matcher) for each metric selector in a PromQL expression."""
    found = []
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?", expr):
        name = m.group(1)
        if not name.startswith("ultragate_"):
            continue
        labels = set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(3) or ""))
        found.append((name, labels))
    return found


def family_of(series, families):
    """The family a series belongs to, or None when the name is not one the gateway exposes."""
    if series in families and families[series] != "histogram":
        return series
    for suffix in ("_bucket", "_sum", "_count"):
        base = series[: -len(suffix)]
        if series.endswith(suffix) and families.get(base) == "histogram":
            return base
    return None


def all_exprs(d):
    exprs = [(p["title"], t["expr"], t.get("legendFormat", "")) for p in data_panels(d) for t in p["targets"]]
    for var in d.get("templating", {}).get("list", []):
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if var.get("type") == "query" and query:
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query.strip())
            assert m, f"unexpected variable query {query}"
            exprs.append((f"variable {var['name']}", m.group(1) + "{" + m.group(2) + '!=""}', ""))
    return exprs


def test_dashboard_queries_only_metrics_the_gateway_exposes(metric_families):
    labels_of = {name: labels for name, (_, labels) in source_families().items()}
    for title, expr, legend in all_exprs(dashboard()):
        series = series_in(expr)
        assert series, f"{title}: `{expr}` queries no ultragate metric"
        known_labels = set(TARGET_LABELS)
        for name, matcher_labels in series:
            family = family_of(name, metric_families)
            assert family is not None, f"{title}: `{name}` is not a metric family the gateway exposes"
            allowed = labels_of.get(family, set()) | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
            assert matcher_labels <= allowed, f"{title}: {name} has no label(s) {matcher_labels - allowed}"
            known_labels |= allowed
            if name.endswith("_bucket"):
                assert "histogram_quantile" in expr, f"{title}: raw buckets without histogram_quantile"
        grouping = [set(re.findall(r"\w+", g)) for g in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)]
        for group in grouping:
            assert group <= known_labels, f"{title}: grouping by unknown label(s) {group - known_labels}"
        if "histogram_quantile" in expr:
            assert grouping and all("le" in g for g in grouping), f"{title}: histogram_quantile needs `by (le, …)`"
        # A legend may only name labels that survive the outermost aggregation.
        legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
        if legend_labels:
            visible = grouping[-1] if grouping and expr.lstrip().startswith(("sum", "avg", "max", "min", "histogram_quantile")) else known_labels
            if "histogram_quantile" in expr:
                visible = grouping[-1] - {"le"}
            assert legend_labels <= visible, f"{title}: legend {legend} names labels the query drops"


def test_dashboard_covers_the_gateway_metrics():
    exprs = " ".join(e for _, e, _ in all_exprs(dashboard()))
    compact = re.sub(r"\s+", "", exprs)
    for needle in [
        "sumby(le,model)(rate(ultragate_upstream_request_duration_seconds_bucket",
        "sumby(le,model)(rate(ultragate_upstream_time_to_first_token_seconds_bucket",
        "sumby(le,provider)(rate(ultragate_upstream_retry_wait_seconds_bucket",
        "ultragate_upstream_attempts_total",
        "histogram_quantile(0.5,sumby(le)(rate(ultragate_gateway_overhead_seconds_bucket",
        "histogram_quantile(0.99,sumby(le)(rate(ultragate_gateway_overhead_seconds_bucket",
        'ultragate_cache_lookups_total{result="hit"}',
        "ultragate_cost_saved_usd_total",
        "ultragate_cost_usd_total",
        "sumby(status)(rate(ultragate_requests_total",
        "ultragate_tokens_total",
        "ultragate_in_flight_requests",
        "ultragate_open_connections",
        "ultragate_cache_entries",
        "ultragate_cache_bytes",
    ]:
        assert needle in compact, f"the dashboard has no query with {needle}"
    # The hit ratio divides hits by all lookups.
    assert re.search(r'ultragate_cache_lookups_total\{result="hit"\}\[[^\]]+\]\)\)\s*/\s*sum\((rate|increase)\(ultragate_cache_lookups_total\[', exprs)


def test_dashboard_promql_parses_with_promtool(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    rules = [{"record": f"ultragate:dashboard_check:{i}", "expr": grafana_to_promql(expr)}
             for i, (_, expr, _) in enumerate(all_exprs(dashboard()))]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Dockerfile


def test_dockerfile_builds_on_swift_and_runs_on_slim_debian():
    stages = dockerfile_stages()
    assert len(stages) == 2, "a build stage and a runtime stage"
    build, runtime = stages
    m = re.fullmatch(r"swift:(\d+)\.(\d+)(?:\.\d+)?-bookworm", build["base"])
    assert m and (int(m.group(1)), int(m.group(2))) >= (6, 1), build["base"]
    assert build["name"], "the build stage needs a name for COPY --from"
    assert runtime["base"] == "debian:bookworm-slim"
    assert {"libcurl4-openssl-dev", "liblmdb-dev", "pkg-config"} <= apt_installed(build)
    runs = " ".join(rest for i, rest in build["instructions"] if i == "RUN")
    assert re.search(r"swift build -c release --product ultragate --static-swift-stdlib", runs)
    assert {"libcurl4", "liblmdb0", "ca-certificates"} <= apt_installed(runtime)
    copies = [rest for i, rest in runtime["instructions"] if i == "COPY"]
    assert any(c.startswith(f"--from={build['name']} ") and c.endswith("/usr/local/bin/ultragate") for c in copies)
    assert ("EXPOSE", "8080") in runtime["instructions"]


def test_dockerfile_runs_as_a_non_root_user():
    runtime = dockerfile_stages()[-1]
    users = [rest for i, rest in runtime["instructions"] if i == "USER"]
    assert users, "the runtime stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    runs = " ".join(rest for i, rest in runtime["instructions"] if i == "RUN")
    assert re.search(rf"useradd\b[^&]*\b{re.escape(user)}\b", runs), f"user {user} is never created"
    # The cache directory is created owned by that user (a fresh named volume copies the owner).
    assert re.search(rf"install -d -o {re.escape(user)}\b[^&]*/var/lib/ultragate", runs)


def test_dockerfile_build_context_has_what_the_manifest_needs():
    build = dockerfile_stages()[0]
    patterns = dockerignore_patterns()
    copied = []
    for instr, rest in build["instructions"]:
        if instr == "COPY" and not rest.startswith("--from"):
            *sources, _ = rest.split()
            for s in sources:
                assert (ROOT / s).exists(), f"COPY {s}: not in the repo"
                assert not ignored_by_docker(s, patterns), f"COPY {s}: excluded by .dockerignore"
                copied.append(s.rstrip("/"))
    assert "Package.swift" in copied
    # SwiftPM refuses a manifest whose target folders are missing: each must be copied and kept.
    manifest = (ROOT / "Package.swift").read_text()
    for path in re.findall(r'path:\s*"([^"]+)"', manifest):
        assert any(path == c or path.startswith(c + "/") for c in copied), f"target folder {path} is not copied"
        assert not ignored_by_docker(path, patterns), f"target folder {path} is excluded by .dockerignore"
        assert (ROOT / path).is_dir()
    # Secrets and build output stay out of the context.
    for private in (".env", ".build", ".git"):
        assert ignored_by_docker(private, patterns), f"{private} must be in .dockerignore"


def static_release_binary():
    """A `--static-swift-stdlib` release build, when one was made here (the runtime image's libraries
    are checked against what it links)."""
    candidate = Path(os.environ.get("ULTRAGATE_STATIC_BIN", ROOT / ".build" / "release" / "ultragate"))
    if not candidate.exists() or shutil.which("readelf") is None:
        return None
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", subprocess.run(["readelf", "-d", str(candidate)], capture_output=True, text=True).stdout)
    if any(n.startswith("libswift") or n.startswith("libFoundation") for n in needed):
        return None
    return needed


def test_runtime_image_installs_every_library_the_static_binary_links():
    needed = static_release_binary()
    if needed is None:
        pytest.skip("no --static-swift-stdlib release build here (swift build -c release --product ultragate --static-swift-stdlib)")
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not available to map libraries to Debian packages")
    installed = apt_installed(dockerfile_stages()[-1])
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) \(libc6,x86-64[^)]*\) => (\S+)$", cache, re.M))
    paths.update((k, v) for k, v in re.findall(r"^\s*(\S+) \([^)]*\) => (\S+)$", cache, re.M) if k not in paths)
    for soname in needed:
        path = paths.get(soname)
        assert path, f"{soname} not found by ldconfig"
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        package = owner.stdout.split(":")[0]
        # libc6 is in every Debian image; everything else must be named in the runtime stage.
        assert package == "libc6" or package in installed, f"{soname} comes from {package}, which the runtime stage does not install"


def start(args, env=None):
    tmp = tempfile.TemporaryDirectory(prefix="ultragate-deploy-")
    log = open(os.path.join(tmp.name, "stderr.log"), "w+")
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    full_env.update(env or {})
    proc = subprocess.Popen([BINARY, *args], stdout=subprocess.DEVNULL, stderr=log, env=full_env)
    deadline = time.time() + 30
    while time.time() < deadline:
        text = Path(log.name).read_text()
        m = re.search(r"listening on http://([^:]+):(\d+)", text)
        if m:
            return proc, tmp, log, m.group(1), int(m.group(2))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError(f"ultragate {args} did not start: {Path(log.name).read_text()}")


def stop(proc, tmp, log):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    tmp.cleanup()
    return proc.returncode


def test_compose_requires_the_gateway_keys_and_a_grafana_password():
    """No open relay and no default passwords: compose stops unless .env sets the master key, the
    metrics key and Grafana's admin password; Prometheus scrapes with the metrics key."""
    doc = compose()
    text = COMPOSE.read_text()
    env = doc["services"]["ultragate"]["environment"]
    for var in ("ULTRAGATE_MASTER_KEY", "ULTRAGATE_METRICS_KEY"):
        assert re.fullmatch(r"\$\{%s:\?[^}]+\}" % var, env[var]), f"{var} must be required (${{{var}:?...}})"
    grafana_password = doc["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", grafana_password), "Grafana must have no default password"
    assert ":-admin" not in text
    # The metrics key reaches Prometheus as the file its scrape job reads.
    (job,) = [j for j in load_yaml(PROMETHEUS_YML)["scrape_configs"] if j["job_name"] == "ultragate"]
    assert job["authorization"]["type"] == "Bearer"
    (mount,) = doc["services"]["prometheus"]["configs"]
    assert mount["target"] == job["authorization"]["credentials_file"]
    assert doc["configs"][mount["source"]]["content"].startswith("${ULTRAGATE_METRICS_KEY:?")
    # The gateway's config reads the same variable as its metrics key.
    assert json.loads((DEPLOY / "ultragate.json").read_text())["auth"]["metrics_key"] == "${ULTRAGATE_METRICS_KEY}"


def test_entrypoint_and_compose_command_start_the_real_binary():
    """The image's ENTRYPOINT plus compose's `command:` (config path mapped back to the repo file),
    with the port set to 0 and the cache in a temporary folder."""
    runtime = dockerfile_stages()[-1]
    entrypoint = json_form(only(runtime, "ENTRYPOINT"))
    assert entrypoint[:2] == ["ultragate", "serve"]
    service = compose()["services"]["ultragate"]
    command = service["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    config_in_container = command[command.index("--config") + 1]
    assert container_path_for(service, DEPLOY / "ultragate.json") == config_in_container
    tmp_cache = tempfile.mkdtemp(prefix="ultragate-deploy-cache-")
    args = entrypoint[1:] + command
    args[args.index("--port") + 1] = "0"
    args[args.index("--cache-dir") + 1] = tmp_cache
    args[args.index("--config") + 1] = str(DEPLOY / "ultragate.json")
    # Without a master key the image refuses to serve on all interfaces: one line, exit 2.
    refused = subprocess.run([BINARY] + args, capture_output=True, text=True, timeout=30,
                             env={k: v for k, v in os.environ.items() if not k.startswith("ULTRAGATE_")})
    assert refused.returncode == 2, refused.stderr
    assert "ULTRAGATE_MASTER_KEY" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    master, metrics_key = "master-0123456789abcdef", "metrics-0123456789abcdef"
    proc, tmp, log, host, port = start(args, env={"ULTRAGATE_MASTER_KEY": master, "ULTRAGATE_METRICS_KEY": metrics_key})
    try:
        assert host == "0.0.0.0", "the container must listen on all interfaces"
        base = f"http://127.0.0.1:{port}"
        assert requests.get(base + "/health", timeout=10).status_code == 200
        assert requests.get(base + "/v1/models", timeout=10).status_code == 401
        # deploy/ultragate.json names no providers: with no keys the mock models serve.
        models = [m["id"] for m in requests.get(base + "/v1/models", timeout=10,
                                                headers={"Authorization": f"Bearer {master}"}).json()["data"]]
        assert "mock-gpt" in models
        # Prometheus's scrape: the metrics key reads /metrics and nothing else.
        assert requests.get(base + "/metrics", timeout=10, headers={"Authorization": f"Bearer {metrics_key}"}).status_code == 200
        assert requests.get(base + "/metrics", timeout=10).status_code == 401
        assert requests.get(base + "/v1/models", timeout=10, headers={"Authorization": f"Bearer {metrics_key}"}).status_code == 403
        # The image's HEALTHCHECK command succeeds against it (curl, as installed in the image).
        health = only(runtime, "HEALTHCHECK")
        check = json_form(health[health.index("CMD") + 3:].strip())
        assert any("127.0.0.1:8080/health" in a for a in check)
        assert check[0] in apt_installed(runtime), f"{check[0]} is not installed in the runtime image"
        if shutil.which(check[0]):
            local = [a.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for a in check]
            assert subprocess.run(local, capture_output=True, timeout=10).returncode == 0
    finally:
        code = stop(proc, tmp, log)
        shutil.rmtree(tmp_cache, ignore_errors=True)
    assert code == 0, "SIGTERM (the image's STOPSIGNAL) must end the gateway cleanly"


def test_example_config_defines_the_three_providers_from_environment_keys():
    example = json.loads((DEPLOY / "ultragate.example.json").read_text())
    providers = example["providers"]
    assert {p["type"] for p in providers.values()} == {"openai", "anthropic", "gemini"}
    for p in providers.values():
        assert p["api_key"] in {f"${{{k}}}" for k in PROVIDER_KEYS}
    keys = {k: f"test-{k.lower()}" for k in PROVIDER_KEYS}
    g = Gateway(config=example, env=keys)
    try:
        listed = requests.get(g.base_url + "/v1/models", timeout=10).json()["data"]
        owners = {m["id"]: m["owned_by"] for m in listed}
        for name, model in example["models"].items():
            assert owners.get(name) == model["provider"], f"model {name} is not served by {model['provider']}"
    finally:
        g.close()
