"""The README's settings table names every setting that webapp/settings.py reads from the environment."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READS = re.compile(r'(?:env_\w+|required_in_production|environ\.get|getenv)\(\s*"([A-Z][A-Z0-9_]*)"')


def test_every_setting_read_from_the_environment_is_in_the_readme_table():
    names = set(READS.findall((ROOT / "webapp" / "settings.py").read_text()))
    table = "\n".join(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `"))

    assert len(names) > 30, "the pattern no longer finds the settings"
    assert sorted(name for name in names if f"`{name}`" not in table) == []
