"""The image holds everything a service reads at run time.

Docker does not run on the team's machines, so this test builds the image's file tree the way
the Dockerfile does, without Docker:

* it parses the Dockerfile (stages, ``WORKDIR``, ``COPY``, ``RUN pip install``, ``ENV``,
  ``ENTRYPOINT``) and copies exactly what each ``COPY`` takes from the build context into a
  temporary directory standing for that stage's file system;
* the build stage's ``pip install --prefix=/install .`` becomes ``pip install --no-deps
  --no-build-isolation --target <site> <src>``: the same wheel build from the same copied files
  (setuptools decides what goes in, package data included), only placed in one directory instead
  of ``/install/lib/python3.11/site-packages``, and without reinstalling the pinned dependencies,
  which the test venv already has (they are the image's third-party layer, not our files). The
  final stage's ``COPY --from=build /install /usr/local`` puts that directory on the image's
  ``sys.path``; here it is ``PYTHONPATH``;
* every service, the ``migrate`` command and the demo loader start from there, as compose starts
  them (same commands and variables), with ``cwd`` the final stage's ``WORKDIR`` in the temporary
  directory, against the local RabbitMQ (a private vhost and account) and PostgreSQL (a database
  per service).

A file read from outside that set fails the test: each process runs under an audit hook that
records every file opened or listed inside the checkout (the venv aside: it is the image's
Python and dependencies), and reports where ``services`` was imported from, which must be the
temporary directory. Today's reporting reading docs/statistics.md would be caught either way: the
checkout's copy by the hook, the missing one in the image by reporting not starting.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from services.kernel.config import ROOT
from tests.conftest import auth_headers, free_port
from tests.deploy.test_compose_processes import compose_env  # noqa: F401  (a fixture)
from tests.deploy.test_deploy_files import COMPOSE

pytestmark = pytest.mark.postgres

DOCKERFILE = Path(os.environ.get("LIANXIN_TEST_DOCKERFILE") or ROOT / "Dockerfile")
SERVICES = ("registry", "intake", "routing", "reporting")

# Runs in each child before the entrypoint module: every open/listdir inside the checkout (but
# not its .venv) is written to LIANXIN_IMAGE_TEST_REPORT and refused.
GUARD = r"""
import json, os, runpy, sys
checkout, report = os.environ["LIANXIN_IMAGE_TEST_CHECKOUT"], os.environ["LIANXIN_IMAGE_TEST_REPORT"]
venv = os.path.join(checkout, ".venv") + os.sep
def note(**what):
    with open(report, "a") as f:
        f.write(json.dumps({"pid": os.getpid(), **what}) + "\n")
def hook(event, args):
    if event not in ("open", "os.listdir", "os.scandir", "glob.glob") or not args:
        return
    path = args[0]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return
    path = os.path.abspath(path)
    if (path + os.sep).startswith(checkout + os.sep) and not path.startswith(venv) and path != report:
        note(outside=path, event=event)
        raise PermissionError(f"image test: {path} is not in the image")
sys.addaudithook(hook)
module, sys.argv = sys.argv[1], sys.argv[1:]
import services
note(services=services.__file__, argv=sys.argv)
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) for every instruction, continuation lines joined, comments dropped."""
    lines, joined = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not joined and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            joined += line[:-1] + " "
            continue
        lines.append(joined + line)
        joined = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def stages(text: str) -> list[dict]:
    found = []
    for word, rest in instructions(text):
        if word == "FROM":
            name = rest.split(" AS ")[-1].strip().lower() if " AS " in rest.upper() else None
            found.append({"name": name, "steps": []})
        else:
            found[-1]["steps"].append((word, rest))
    return found


def json_or_words(rest: str) -> list[str]:
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)


class Image:
    """The Dockerfile's stages built into ``base``: ``fs(stage)`` stands for a stage's ``/``."""

    def __init__(self, dockerfile: Path, base: Path):
        self.base = base
        self.stages = stages(dockerfile.read_text())
        self.copied: list[str] = []  # context paths the Dockerfile copies
        self.site: Path | None = None  # where the package was installed (the image's sys.path)
        self.env: dict[str, str] = {}
        self.entrypoint: list[str] = []
        self.workdir = "/"

    def fs(self, index: int) -> Path:
        return self.base / f"stage{index}"

    def path(self, index: int, image_path: str, workdir: str) -> Path:
        return self.fs(index) / os.path.join(workdir, image_path).lstrip("/")

    def build(self) -> None:
        installed: dict[int, tuple[str, Path]] = {}  # stage → (prefix in the image, site dir)
        for index, stage in enumerate(self.stages):
            workdir = "/"
            self.fs(index).mkdir(parents=True)
            for word, rest in stage["steps"]:
                if word == "WORKDIR":
                    workdir = os.path.join(workdir, rest)
                    self.path(index, "", workdir).mkdir(parents=True, exist_ok=True)
                elif word == "COPY":
                    self.copy(index, workdir, shlex.split(rest), installed)
                elif word == "RUN" and "pip install" in rest:
                    installed[index] = self.pip_install(index, workdir, shlex.split(rest))
                elif word == "ENV":
                    key, _, value = rest.partition("=")
                    self.env[key.strip()] = value.strip().strip('"')
                elif word == "ENTRYPOINT":
                    self.entrypoint = json_or_words(rest)
            self.workdir = workdir
        self.final = len(self.stages) - 1

    def copy(self, index, workdir, words, installed) -> None:
        source_stage = None
        while words[0].startswith("--"):
            flag = words.pop(0)
            if flag.startswith("--from="):
                source_stage = flag.split("=", 1)[1]
        *sources, dest = words
        if source_stage is not None:
            [src] = sources
            names = [s["name"] for s in self.stages]
            prefix, site = installed[names.index(source_stage)]
            assert src == prefix, f"the image copies {src}, the package was installed to {prefix}"
            self.site = site  # `COPY --from=build /install /usr/local`: the image's site-packages
            return
        target = self.path(index, dest, workdir)
        for src in sources:
            self.copied.append(src)
            origin = ROOT / src
            if origin.is_dir():
                into = target if not dest.endswith("/") else target / origin.name
                shutil.copytree(origin, into, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True) if dest.endswith("/") else None
                into = target / origin.name if dest.endswith("/") else target
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)

    def pip_install(self, index, workdir, words) -> tuple[str, Path]:
        assert words[:2] == ["pip", "install"], words
        [prefix] = [w.split("=", 1)[1] for w in words if w.startswith("--prefix=")]
        [what] = [w for w in words[2:] if not w.startswith("-")]
        site = self.base / f"site{index}"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            + ["--no-deps", "--no-build-isolation", "--target", str(site)]
            + [str(self.path(index, what, workdir))],
            check=True,
            cwd=self.base,
            timeout=300,
        )
        return prefix, site

    def app_dir(self) -> Path:
        return self.path(self.final, "", self.workdir)

    def image_env(self) -> dict[str, str]:
        """The image's ENV with its absolute paths moved into the temporary file system."""
        root = str(self.fs(self.final))
        return {k: root + v if v.startswith("/") else v for k, v in self.env.items()}


@pytest.fixture
def image(tmp_path) -> Image:
    built = Image(DOCKERFILE, tmp_path / "image")
    started = time.monotonic()
    built.build()
    print(f"image tree built in {time.monotonic() - started:.1f}s: copies {built.copied}")
    assert built.site is not None, "the final stage does not copy the installed package"
    return built


def test_the_dockerfile_copies_are_parsed_as_written():
    text = 'FROM a AS build\nWORKDIR /src\nCOPY x y ./\nFROM b\nCOPY --from=build /i /usr\\\n/local\nENTRYPOINT ["p", "-m"]\n'
    [build, final] = stages(text)
    assert build["name"] == "build" and final["name"] is None
    assert build["steps"] == [("WORKDIR", "/src"), ("COPY", "x y ./")]
    assert final["steps"][0] == ("COPY", "--from=build /i /usr /local")


def source_files(top: Path) -> set[str]:
    return {
        str(p.relative_to(top))
        for p in top.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_the_installed_package_holds_every_file_of_services(image):
    """Whatever lies under services/ (modules, migrations, templates, YAML) is in the package the
    image runs: a new run-time file that pyproject.toml's package-data misses fails here."""
    missing = source_files(ROOT / "services") - source_files(image.site / "services")
    assert not missing, f"not installed (add them to [tool.setuptools.package-data]): {missing}"


def test_every_service_migrate_and_the_demo_run_from_what_the_image_holds(
    image,
    compose_env,  # noqa: F811
    tmp_path,
):
    base_env, _ = compose_env
    report = tmp_path / "reads.jsonl"
    report.touch()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LIANXIN_CONFIG")},
        **{k: str(v) for k, v in COMPOSE["x-service"]["environment"].items()},
        **image.image_env(),
        **base_env,
        "PYTHONPATH": str(image.site),
        "LIANXIN_IMAGE_TEST_CHECKOUT": str(ROOT.resolve()),
        "LIANXIN_IMAGE_TEST_REPORT": str(report),
        "LIANXIN_LOG_LEVEL": "WARNING",
    }
    # the image's own config, not compose's relative path (it names the same file in /app)
    env["LIANXIN_CONFIG"] = image.image_env()["LIANXIN_CONFIG"]
    assert Path(env["LIANXIN_CONFIG"]).is_file(), "the image lacks its config file"
    cwd = image.app_dir()
    assert not (cwd / "docs").exists()

    def command(words: list[str]) -> list[str]:
        """An image command (entrypoint + args, or a compose entrypoint) under the guard."""
        assert words[0] == "python" and words[1] == "-m", words
        return [sys.executable, "-c", GUARD, *words[2:]]

    entry = image.entrypoint
    timings = {}
    procs, ports, logs = {}, {}, {}
    try:
        started = time.monotonic()
        subprocess.run(command([*entry, *COMPOSE["services"]["migrate"]["command"]]), env=env,
                       cwd=cwd, check=True, timeout=300)  # fmt: skip
        timings["migrate"] = time.monotonic() - started
        started = time.monotonic()
        subprocess.run(command(COMPOSE["services"]["demo"]["entrypoint"]), env=env, cwd=cwd,
                       check=True, timeout=600, stdout=subprocess.DEVNULL)  # fmt: skip
        timings["demo"] = time.monotonic() - started
        started = time.monotonic()
        for service in SERVICES:
            ports[service] = free_port()
            logs[service] = open(tmp_path / f"{service}.log", "wb")
            procs[service] = subprocess.Popen(
                command([*entry, service]),
                env={**env, f"{service.upper()}_PORT": str(ports[service])},
                cwd=cwd,
                stdout=logs[service],
                stderr=subprocess.STDOUT,
            )

        def url(service, path):
            return f"http://127.0.0.1:{ports[service]}{path}"

        deadline = time.monotonic() + 180
        waiting = set(SERVICES)
        while waiting and time.monotonic() < deadline:
            for service in sorted(waiting):
                proc = procs[service]
                assert proc.poll() is None, (
                    f"{service} exited with {proc.returncode}:\n"
                    + (tmp_path / f"{service}.log").read_text()[-3000:]
                )
                try:
                    if requests.get(url(service, "/ready"), timeout=2).status_code == 200:
                        waiting.discard(service)
                except requests.RequestException:
                    pass
            time.sleep(0.3)
        assert not waiting, f"not ready within 180 s: {waiting}"
        timings["ready"] = time.monotonic() - started

        # What the services read at run time answers from the image: the figures' definitions
        # (reporting), the templates (intake's pages), the catalogue and holidays (routing).
        office = auth_headers({"security": {"secret_key": base_env["LIANXIN_SECRET_KEY"]}})
        stats = requests.get(url("reporting", "/stats/monthly"), headers=office, timeout=10)
        assert stats.status_code == 200, stats.text
        page = requests.get(url("intake", "/status"), timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:300]
        catalogue = requests.get(url("routing", "/catalogue"), headers=office, timeout=10)
        assert catalogue.status_code == 200 and catalogue.json(), catalogue.text[:300]
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs.values():
            log.close()
    print(f"timings (s): { {k: round(v, 1) for k, v in timings.items()} }")

    notes = [json.loads(line) for line in report.read_text().splitlines()]
    outside = sorted({n["outside"] for n in notes if "outside" in n})
    assert not outside, f"read from the checkout, not the image: {outside}"
    imported = {n["services"] for n in notes if "services" in n}
    assert len([n for n in notes if "services" in n]) >= len(SERVICES) + 2  # + migrate, demo
    for where in imported:
        assert Path(where).resolve().is_relative_to(image.site.resolve()), (
            f"services imported from {where}, not the installed package: a source tree in the "
            "image's WORKDIR shadows it, so its package data goes untested"
        )
