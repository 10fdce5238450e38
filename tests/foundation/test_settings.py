"""The production profile: refuses to start without secrets and passes `check --deploy`."""

import pytest

from tests.foundation.profiles import PRODUCTION, print_settings, run_manage


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_required_setting(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = run_manage("check", env_overrides=env)

    assert result.returncode != 0
    assert f"{missing} must be set when APP_ENV=production" in result.stderr


def test_production_refuses_a_weak_secret_key():
    result = run_manage("check", env_overrides={**PRODUCTION, "SECRET_KEY": "short"})

    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


def test_production_refuses_a_long_secret_key_of_few_characters():
    result = run_manage("check", env_overrides={**PRODUCTION, "SECRET_KEY": "abcd" * 20})

    assert result.returncode != 0
    assert "at least 5 of them different" in result.stderr


@pytest.mark.parametrize("url", ["sqlite:////tmp/hue.sqlite3", "mysql://hue:secret@db/hue"])
def test_production_refuses_a_database_other_than_postgresql(url):
    result = run_manage("check", env_overrides={**PRODUCTION, "DATABASE_URL": url})

    assert result.returncode != 0
    assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr
    assert "secret" not in result.stderr


def test_production_profile_passes_check_deploy():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_profile_is_locked_down():
    result = print_settings(
        "s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.DATABASES['default']['ENGINE'], s.STORAGES['staticfiles']['BACKEND']",
        env_overrides=PRODUCTION,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False", "True", "True", "True", "django.db.backends.postgresql",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ]


@pytest.mark.slow
def test_it_gives_up_on_an_unreachable_postgresql_within_seconds():
    default = print_settings("s.DATABASES['default']['OPTIONS']['connect_timeout']", env_overrides=PRODUCTION)
    custom = print_settings("s.DATABASES['default']['OPTIONS']['connect_timeout']",
                            env_overrides={**PRODUCTION, "DB_CONNECT_TIMEOUT": "7"})

    assert default.returncode == 0, default.stderr
    assert (default.stdout.strip(), custom.stdout.strip()) == ("3", "7")


def test_local_profile_defaults_to_sqlite_and_debug():
    result = print_settings("s.DEBUG, s.DATABASES['default']['ENGINE']", env_overrides={"APP_ENV": "local"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3"]


def test_an_unknown_profile_is_refused():
    result = run_manage("check", env_overrides={"APP_ENV": "staging"})

    assert result.returncode != 0
    assert "APP_ENV must be" in result.stderr
