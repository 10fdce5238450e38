"""Run manage.py in a fresh process with a settings profile: settings are read once, at import."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 20 + "3f9a0c2e7b1d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d"
PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "photos.example.com",
              "DATABASE_URL": "postgres://hue@127.0.0.1:5432/hue"}


def run_manage(*args, env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "DEBUG")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def print_settings(expression: str, env_overrides) -> subprocess.CompletedProcess:
    code = f"from django.conf import settings as s; print({expression})"
    return run_manage("shell", "--no-imports", "-c", code, env_overrides=env_overrides)
