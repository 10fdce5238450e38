"""`make superuser` (scripts/run/superuser.sh): the admin account lands in the database `make run` uses."""

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR", "MEDIA_ROOT", "STATIC_ROOT")}
    return {**env, "APP_ENV": "local", **extra}


def test_the_printed_command_for_another_var_dir_creates_the_admin_there(tmp_path):
    var_dir = tmp_path / "state dir"
    env = environment(VAR_DIR=str(var_dir), COLORIZER_DEFAULT_WEIGHTS=str(tmp_path / "none.safetensors"))

    hint = subprocess.run(["bash", "scripts/run/superuser.sh", "--hint"], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    assert hint.endswith("make superuser") and "VAR_DIR=" in hint
    created = subprocess.run(["bash", "-c", hint], cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env={**environment(COLORIZER_DEFAULT_WEIGHTS=env["COLORIZER_DEFAULT_WEIGHTS"]),
                                  "DJANGO_SUPERUSER_USERNAME": "root", "DJANGO_SUPERUSER_EMAIL": "root@example.com",
                                  "DJANGO_SUPERUSER_PASSWORD": "a-Long-passphrase-42"})

    assert created.returncode == 0, created.stdout + created.stderr
    with sqlite3.connect(var_dir / "db.sqlite3") as db:
        assert db.execute("select username, is_superuser from auth_user").fetchall() == [("root", 1)]


def test_with_the_default_var_dir_the_hint_is_just_make_superuser():
    hint = subprocess.run(["bash", "scripts/run/superuser.sh", "--hint"], cwd=ROOT, env=environment(), check=True,
                          capture_output=True, text=True).stdout.strip()

    assert hint == "make superuser"
