"""The compose file is valid and every command it (and the Procfile) runs exists in the project."""

import importlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = (ROOT / "requirements.txt").read_text().lower()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# Executables the image gets from requirements.txt, and the package that provides each.
PROVIDED_BY = {"gunicorn": "gunicorn", "celery": "celery", "python": None, "bash": None, "curl": None,
               "redis-server": None, "redis-cli": None, "pg_isready": None, "test": None}


@pytest.fixture(scope="module")
def compose():
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose is missing: `make test` installs it (apt-get install docker-compose)")
    env = {**os.environ, "SECRET_KEY": "x" * 60}
    result = subprocess.run(["docker-compose", "config"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def check_command(argv: list[str]) -> None:
    """Each program is known, each script exists, each Python target imports."""
    program = argv[0]
    assert program in PROVIDED_BY, f"unknown program {program!r}"
    if PROVIDED_BY[program]:
        assert f"{PROVIDED_BY[program]}==" in REQUIREMENTS
    for arg in argv[1:]:
        if arg.startswith("scripts/") or arg.endswith(".py"):
            assert (ROOT / arg).exists(), f"{arg} does not exist"
    if program == "gunicorn":
        module, _, attribute = argv[1].partition(":")
        assert hasattr(importlib.import_module(module), attribute)
    if program == "celery":
        assert argv[1] == "-A"
        assert hasattr(importlib.import_module(argv[2]), "celery_app")


def test_compose_file_is_valid_with_every_service(compose):
    assert set(compose["services"]) == {"web", "inference", "inference-cpu", "training", "beat", "redis", "postgres"}


def test_every_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        assert "healthcheck" in service, f"{name} has no healthcheck"


def test_app_services_share_the_media_volume(compose):
    for name in ("web", "inference", "inference-cpu", "training"):
        volumes = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in compose["services"][name]["volumes"]]
        assert any(v.startswith("media:/app/var/media") for v in volumes), name


def test_the_image_makes_the_folders_the_app_writes_for_its_user(compose):
    # Docker creates a missing mount point owned by root, and the app runs as `hue`.
    before_user = DOCKERFILE.split("\nUSER hue\n")[0]
    created = {path for paths in re.findall(r"mkdir -p ((?:/\S+ ?)+)", before_user) for path in paths.split()}
    owned = [Path(folder) for folder in re.findall(r"chown -R hue (/\S+)", before_user)]
    app_services = [service for service in compose["services"].values() if "build" in service]
    mount_points = {volume.split(":")[1] for service in app_services for volume in service["volumes"]}
    for folder in mount_points | {"/app/var/training"}:  # and TRAINING_DIR, a training worker's scratch
        assert folder in created, f"the Dockerfile does not create {folder}"
        assert any(Path(folder).is_relative_to(owner) for owner in owned), f"{folder} is not chowned to hue"


def test_inference_reserves_a_gpu_and_has_a_cpu_fallback(compose):
    devices = compose["services"]["inference"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert compose["services"]["inference-cpu"]["environment"]["COLORIZER_DEVICE"] == "cpu"
    assert "deploy" not in compose["services"]["inference-cpu"]


def test_workers_consume_their_own_queues(compose):
    def queues(service):
        command = compose["services"][service]["command"]
        return command[command.index("--queues") + 1]

    assert queues("inference") == "inference,maintenance"
    assert queues("inference-cpu") == "inference,maintenance"
    assert queues("training") == "training"


def test_every_compose_command_exists_in_the_project(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            check_command(service["command"])


def test_every_procfile_command_exists_in_the_project():
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        check_command(shlex.split(command))


def test_dockerfile_copies_only_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert "requirements.txt" in dockerfile


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith("#")]
    assert commands[-1] == "exec make test"
    first_block = readme.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
