"""The compose file is valid, and every command the deployment runs exists where it runs."""

import importlib
import json
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
SECRETS = {"SECRET_KEY": "x" * 60, "POSTGRES_PASSWORD": "test-password"}

# Where the programs that commands start come from: Python packages pinned in
# requirements.txt, Debian packages the Dockerfile installs, the base image of the
# Dockerfile (python:*-slim, Debian), and the images of the other services.
FROM_REQUIREMENTS = {"gunicorn": "gunicorn", "celery": "celery"}
FROM_DEBIAN = {"curl": "curl"}
IN_THE_BASE_IMAGE = {"python", "bash", "sh", "test"}
IN_SERVICE_IMAGES = {"redis": {"redis-server", "redis-cli"}, "postgres": {"pg_isready"}}


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory):
    """Runs `docker-compose config` with exactly the given environment."""
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose is missing: `make test` installs it (apt-get install docker-compose)")
    # An empty env file: a developer's .env must not supply what a test leaves out.
    env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    env_file.touch()

    def run(env: dict) -> subprocess.CompletedProcess:
        return subprocess.run(["docker-compose", "--env-file", str(env_file), "config"], cwd=ROOT, env=env,
                              capture_output=True, text=True)

    return run


@pytest.fixture(scope="module")
def compose(compose_config):
    result = compose_config({**os.environ, **SECRETS})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def debian_packages() -> set[str]:
    """The packages of every `apt-get install` in the Dockerfile (continuation lines too)."""
    installs = re.findall(r"apt-get install((?:[^&\n\\]|\\\n)+)", DOCKERFILE)
    return {word for install in installs for word in install.split() if not word.startswith("-")}


def pinned_programs() -> set[str]:
    return {program for program, package in FROM_REQUIREMENTS.items() if f"{package}==" in REQUIREMENTS}


def installed_in_app_image() -> set[str]:
    from_debian = {program for program, package in FROM_DEBIAN.items() if package in debian_packages()}
    return pinned_programs() | from_debian | IN_THE_BASE_IMAGE


def programs_of(service: dict) -> set[str]:
    """The programs a service's container has: the app image's, or its own image's."""
    if "build" in service:
        return installed_in_app_image()
    image = service["image"].split(":")[0]
    return IN_SERVICE_IMAGES.get(image, set())


def healthcheck_argv(service: dict) -> list[str]:
    test = service["healthcheck"]["test"]
    if test[0] == "CMD-SHELL":
        return shlex.split(test[1])  # the first program is what must exist; $(...) parts are base tools
    assert test[0] == "CMD", test
    return test[1:]


def check_command(argv: list[str]) -> None:
    """Each script exists and each Python target imports (the program itself: programs_of)."""
    program = argv[0]
    for arg in argv[1:]:
        if arg.startswith("scripts/") or arg.endswith(".py"):
            assert (ROOT / arg).exists(), f"{arg} does not exist"
    if program == "gunicorn":
        module, _, attribute = argv[1].partition(":")
        assert hasattr(importlib.import_module(module), attribute), f"{argv[1]} does not exist"
    if program == "celery":
        assert argv[1] == "-A", argv
        assert hasattr(importlib.import_module(argv[2]), "celery_app"), f"{argv[2]} is not the project's Celery app"


def script_commands(path: Path) -> list[list[str]]:
    """The commands a plain shell script runs, one a line (`exec` dropped)."""
    commands = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "set ")):
            continue
        argv = shlex.split(line)
        commands.append(argv[1:] if argv[0] == "exec" else argv)
    return commands


def app_services(compose) -> dict:
    return {name: service for name, service in compose["services"].items() if "build" in service}


def test_compose_file_is_valid_with_every_service(compose):
    assert set(compose["services"]) == {"migrate", "web", "inference", "inference-cpu", "training", "maintenance", "beat",
                                        "redis", "postgres"}


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_it_refuses_to_run_without_a_secret(compose_config, missing):
    env = {**{k: v for k, v in os.environ.items() if k not in SECRETS}, **SECRETS}
    del env[missing]

    result = compose_config(env)

    assert result.returncode != 0, f"config passed without {missing}"
    assert f"set {missing}" in result.stderr


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if service.get("restart") != "no":
            assert "healthcheck" in service, f"{name} has no healthcheck"


def test_migrations_run_once_before_the_app_starts(compose):
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no", "a one-shot service must not be restarted"
    assert set(migrate["depends_on"]) == {"redis", "postgres"}
    for name, service in app_services(compose).items():
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


def test_app_services_share_the_media_volume(compose):
    for name in ("migrate", "web", "inference", "inference-cpu", "training"):
        volumes = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in compose["services"][name]["volumes"]]
        assert any(v.startswith("media:/app/var/media") for v in volumes), name


def test_the_image_makes_the_folders_the_app_writes_for_its_user(compose):
    # Docker creates a missing mount point owned by root, and the app runs as `hue`.
    before_user = DOCKERFILE.split("\nUSER hue\n")[0]
    created = {path for paths in re.findall(r"mkdir -p ((?:/\S+ ?)+)", before_user) for path in paths.split()}
    owned = [Path(folder) for folder in re.findall(r"chown -R hue (/\S+)", before_user)]
    mount_points = {volume.split(":")[1] for service in app_services(compose).values() for volume in service["volumes"]}
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

    assert queues("inference") == "inference"  # a backlog of photos must not hold up the reapers
    assert queues("inference-cpu") == "inference"
    assert queues("maintenance") == "maintenance"
    assert queues("training") == "training"


def test_every_compose_command_exists_in_its_container(compose):
    for name, service in app_services(compose).items():
        assert service["command"][0] in programs_of(service), name
        check_command(service["command"])


def test_every_healthcheck_runs_a_program_its_container_has(compose):
    for name, service in compose["services"].items():
        if "healthcheck" not in service:
            continue
        argv = healthcheck_argv(service)
        assert argv[0] in programs_of(service), f"{name}'s healthcheck runs {argv[0]}, which its image lacks"
        if "build" in service:
            check_command(argv)


def test_worker_healthchecks_ping_their_own_worker(compose):
    for name, service in app_services(compose).items():
        command = service["command"]
        if command[:4] != ["celery", "-A", "worker", "worker"]:
            continue
        # The worker is named e.g. inference@%h; the probe pings inference@$(hostname).
        prefix = command[command.index("--hostname") + 1].removesuffix("%h")
        assert f"s/^/{prefix}/" in service["healthcheck"]["test"][1], name


def test_the_web_script_runs_what_the_image_has():
    commands = script_commands(ROOT / "scripts" / "run" / "docker-web.sh")

    assert [argv[0] for argv in commands] == ["python", "gunicorn"]
    for argv in commands:
        assert argv[0] in installed_in_app_image()
        check_command(argv)


def test_the_image_default_command_exists():
    command = json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, flags=re.M).group(1))

    assert command[0] in installed_in_app_image()
    check_command(command)


@pytest.mark.integration  # runs manage.py collectstatic in a shell, as the image build does
def test_the_image_build_gives_collectstatic_settings_production_accepts(tmp_path):
    # The Dockerfile's ENV (APP_ENV=production) with its collectstatic RUN, here.
    run = re.search(r"^RUN (SECRET_KEY=(?:.*\\\n)+.*collectstatic.*)$", DOCKERFILE, flags=re.M).group(1)
    script = run.replace("\\\n", " ").replace("collectstatic", "collectstatic --dry-run")
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "DEBUG")}

    result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**env, "APP_ENV": "production", "STATIC_ROOT": str(tmp_path / "static")})

    assert result.returncode == 0, result.stderr


def test_every_procfile_command_exists_in_the_project():
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        argv = shlex.split(command)
        assert argv[0] in pinned_programs() | {"python"}, f"{name} runs {argv[0]}, which .venv lacks"
        check_command(argv)


def test_dockerfile_copies_only_what_exists():
    for sources in re.findall(r"^COPY (.+) \S+$", DOCKERFILE, flags=re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert "requirements.txt" in DOCKERFILE


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith("#")]
    assert commands[-1] == "exec make test"
    first_block = readme.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
