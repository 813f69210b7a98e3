#!/usr/bin/env python3
"""Checks deploy/kubernetes offline: that the manifests give the daemons what they need.

    kubernetes_check.py SOURCE_DIR BIN_DIR

- every flag a container passes exists in that binary's --help;
- every file a flag names (--token-file, --tls-*) is mounted from a Secret by subPath (a
  regular file: the daemons refuse secrets read through a symlink), with a mode that
  others cannot read, and the pod sets the fsGroup that makes it readable to its user;
- the pods run as the image's non-root user (deploy/container/Dockerfile);
- the workers dial the coordinator's Service on the port it listens on, over TLS;
- the coordinator's probes ask the coordinator (on a socket it listens on), the
  workers' readiness asks the coordinator whether it lists them;
- a pod's termination grace outlasts the daemons' --grace;
- the coordinator's --journal is on its StatefulSet's PersistentVolumeClaim;
- make-secrets.sh, run on the output of a real `shoal cert init`, makes Secrets with the
  keys the manifests mount; with kubectl present, `kubectl kustomize` renders the set.
Exits 1 with one line per problem.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # a python3 without PyYAML: try Debian's (python3-yaml, in make deps)
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("kubernetes_check: PyYAML is missing (apt-get install python3-yaml)")
    sys.exit(1)

SOURCE, BIN = sys.argv[1], sys.argv[2]
KDIR = os.path.join(SOURCE, "deploy", "kubernetes")
problems = []


def problem(text):
    problems.append(text)


def load(name):
    with open(os.path.join(KDIR, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


docs = load("coordinator.yaml") + load("workers.yaml")
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

kustomization = load("kustomization.yaml")[0]
for r in kustomization.get("resources", []):
    if not os.path.exists(os.path.join(KDIR, r)):
        problem(f"kustomization.yaml lists {r}, which does not exist")

coord = by_kind.get("StatefulSet", {}).get("shoal-coordinator")
workers = by_kind.get("Deployment", {}).get("shoal-worker")
service = by_kind.get("Service", {}).get("shoal-coordinator")
if not coord or not workers or not service:
    print("kubernetes_check: expected StatefulSet shoal-coordinator, Deployment shoal-worker, Service shoal-coordinator")
    sys.exit(1)

# The image's user.
with open(os.path.join(SOURCE, "deploy", "container", "Dockerfile")) as f:
    m = re.search(r"useradd[^\n]*--uid (\d+)", f.read())
image_uid = int(m.group(1)) if m else None
if image_uid is None:
    problem("deploy/container/Dockerfile does not give the shoal user a fixed --uid")

help_cache = {}


def flags_of(binary):
    if binary not in help_cache:
        out = subprocess.run([os.path.join(BIN, binary), "--help"], capture_output=True, text=True, timeout=30)
        help_cache[binary] = set(re.findall(r"(--[a-z][a-z0-9-]*)", out.stdout))
    return help_cache[binary]


def option_values(args):
    """[(flag, value)] from an argv that writes each value as its own item."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                out.append(tuple(a.split("=", 1)))
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                out.append((a, args[i + 1]))
                i += 1
            else:
                out.append((a, None))
        i += 1
    return out


FILE_FLAGS = {"--token-file", "--tls-cert", "--tls-key", "--tls-ca"}
SECRET_FILES = {"--token-file", "--tls-key"}


def check_pod(name, obj, binary, grace_default=30):
    spec = obj["spec"]["template"]["spec"]
    sc = spec.get("securityContext", {})
    if not sc.get("runAsNonRoot"):
        problem(f"{name}: the pod does not set runAsNonRoot")
    if image_uid is not None and sc.get("runAsUser") != image_uid:
        problem(f"{name}: runAsUser {sc.get('runAsUser')} is not the image's shoal user {image_uid}")
    if sc.get("fsGroup") is None:
        problem(f"{name}: no fsGroup: the Secret files (0440, root-owned) would be unreadable to the shoal user")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    (container,) = spec["containers"]
    command = container.get("command", []) + container.get("args", [])
    if not command or command[0] != binary:
        problem(f"{name}: the container does not run {binary}")
    known = flags_of(binary)
    opts = option_values(command[1:])
    for flag, value in opts:
        if flag not in known:
            problem(f"{name}: {binary} has no flag {flag}")
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    for flag, value in opts:
        if flag not in FILE_FLAGS:
            continue
        m = mounts.get(value)
        if not m:
            problem(f"{name}: {flag} {value} is not a mounted file")
            continue
        if "subPath" not in m:
            problem(f"{name}: {value} is mounted without subPath: a Secret volume gives a symlink, which the daemons refuse")
        vol = volumes.get(m["name"], {})
        secret = vol.get("secret")
        if not secret:
            problem(f"{name}: {value} does not come from a Secret")
            continue
        mode = secret.get("defaultMode", 0o644)
        if flag in SECRET_FILES and mode & 0o007:
            problem(f"{name}: {value} (mode {mode:o}) is readable by others: the daemons refuse it")
        if flag in SECRET_FILES and mode & 0o020:
            problem(f"{name}: {value} (mode {mode:o}) is group-writable")
        if m.get("readOnly") is not True:
            problem(f"{name}: {value} is not mounted read-only")
        secret_mounts.setdefault(secret["secretName"], set()).add(m.get("subPath", "(whole volume)"))
    if ("--tls-cert" in dict(opts)) != ("--tls-key" in dict(opts)):
        problem(f"{name}: --tls-cert and --tls-key go together")
    if "--tls-ca" not in dict(opts):
        problem(f"{name}: no --tls-ca: TCP between pods would not be verified")
    grace = float(dict(opts).get("--grace") or grace_default)
    if spec.get("terminationGracePeriodSeconds", 30) <= grace:
        problem(f"{name}: terminationGracePeriodSeconds must outlast --grace {grace:g}")
    return container, dict(opts), opts


secret_mounts = {}
c_container, c_opts, c_all = check_pod("coordinator", coord, "shoal-coordinator")
w_container, w_opts, w_all = check_pod("workers", workers, "shoal-worker")

# The journal lies on the StatefulSet's PersistentVolumeClaim (not the container's own
# filesystem or an emptyDir, which a rescheduled pod loses).
journal = c_opts.get("--journal")
if not journal:
    problem("coordinator: no --journal: a coordinator restart would lose the accepted tasks")
else:
    claims = {t["metadata"]["name"] for t in coord["spec"].get("volumeClaimTemplates", [])}
    under = [m for m in c_container.get("volumeMounts", []) if journal.startswith(m["mountPath"].rstrip("/") + "/")]
    if not under or under[0]["name"] not in claims:
        problem(f"coordinator: --journal {journal} is not on a volumeClaimTemplate mount ({sorted(claims)})")

# The coordinator listens where the Service sends, and the workers dial the Service.
listens = [v for f, v in c_all if f == "--listen"]
tcp = [l for l in listens if l.startswith("tcp://")]
unix = [l for l in listens if l.startswith("unix://")]
ports = {p["name"]: p["containerPort"] for p in c_container.get("ports", [])}
svc_port = service["spec"]["ports"][0]
if not tcp:
    problem("coordinator: no tcp:// --listen for the workers")
else:
    listen_port = int(tcp[0].rsplit(":", 1)[1])
    target = svc_port.get("targetPort", svc_port["port"])
    target_port = ports.get(target, target)
    if target_port != listen_port:
        problem(f"Service shoal-coordinator sends to {target_port}, the coordinator listens on {listen_port}")
labels = coord["spec"]["template"]["metadata"]["labels"]
if any(labels.get(k) != v for k, v in service["spec"]["selector"].items()):
    problem("Service shoal-coordinator does not select the coordinator's pod")
headless = coord["spec"].get("serviceName")
if headless not in by_kind.get("Service", {}):
    problem(f"StatefulSet serviceName {headless} is not a Service here")
dial = w_opts.get("--coordinator", "")
m = re.match(r"tcp://([^:/]+):(\d+)$", dial)
if not m or m.group(1) != "shoal-coordinator" or int(m.group(2)) != svc_port["port"]:
    problem(f"workers dial {dial!r}, not the Service tcp://shoal-coordinator:{svc_port['port']}")

# Probes: the coordinator's ask it on its own socket; the workers' ask it for the worker.
for kind in ("readinessProbe", "livenessProbe"):
    probe = c_container.get(kind, {}).get("exec", {}).get("command", [])
    if not probe or probe[0] != "shoal" or "status" not in probe:
        problem(f"coordinator: the {kind} does not run `shoal ... status`")
    elif not any(a in unix for a in probe):
        problem(f"coordinator: the {kind} does not use a socket the coordinator listens on ({unix})")
probe = " ".join(w_container.get("readinessProbe", {}).get("exec", {}).get("command", []))
if "shoal" not in probe or "workers" not in probe or "shoal-coordinator" not in probe:
    problem("workers: the readiness probe does not ask the coordinator for its workers")
if "livenessProbe" in w_container:
    problem("workers: a liveness probe would restart every worker whenever the coordinator restarts")
env = {e["name"]: e.get("value") for e in w_container.get("env", [])}
for flag, var in (("--tls-ca", "SHOAL_TLS_CA"), ("--tls-cert", "SHOAL_TLS_CERT"), ("--tls-key", "SHOAL_TLS_KEY"),
                  ("--token-file", "SHOAL_TOKEN_FILE")):
    if env.get(var) != w_opts.get(flag):
        problem(f"workers: the probe's {var} ({env.get(var)}) is not the worker's {flag} ({w_opts.get(flag)})")

# make-secrets.sh on a real `shoal cert init`: the Secrets carry what is mounted.
kubectl = shutil.which("kubectl")
with tempfile.TemporaryDirectory() as tmp:
    pki = os.path.join(tmp, "pki")
    r = subprocess.run([os.path.join(BIN, "shoal"), "cert", "init", pki, "--host", "shoal-coordinator"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        problem(f"shoal cert init failed: {r.stderr.strip()}")
    elif kubectl:
        r = subprocess.run([os.path.join(KDIR, "make-secrets.sh"), pki, "shoal", "--print"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            problem(f"make-secrets.sh failed: {r.stderr.strip()}")
        else:
            made = {d["metadata"]["name"]: set(d.get("data", {})) for d in yaml.safe_load_all(r.stdout) if d}
            for secret, keys in secret_mounts.items():
                if secret not in made:
                    problem(f"make-secrets.sh makes no Secret {secret}")
                elif not keys <= made[secret]:
                    problem(f"Secret {secret} lacks {sorted(keys - made[secret])}")
        r = subprocess.run([kubectl, "kustomize", KDIR], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            problem(f"kubectl kustomize failed: {r.stderr.strip()}")
    else:
        print("kubernetes_check: kubectl is not installed: make-secrets.sh and kustomize not checked")

for p in problems:
    print("kubernetes_check:", p)
if not problems:
    print("kubernetes_check: the manifests give the daemons what they need")
sys.exit(1 if problems else 0)
