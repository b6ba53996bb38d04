"""Docs that cannot rot: what the code declares must be what the docs say."""

from pathlib import Path

from statsserver import collectors, config as settings
from statsserver.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def read(name):
    return (ROOT / name).read_text()


def test_readme_opens_with_the_two_commands():
    top = read("README.md")[:600]
    assert "make run" in top and "make test" in top


def test_settings_reference_is_generated_from_the_registry():
    assert read("docs/settings.md").endswith(settings.docs_table())


def test_example_settings_file_is_current():
    assert read("settings.example.conf") == settings.example_file()


def test_every_setting_is_documented():
    reference = read("docs/settings.md")
    for setting in settings.SETTINGS:
        assert f"`[{setting.section}] {setting.key}`" in reference


def test_collector_reference_is_generated_from_the_declarations():
    assert collectors.docs_table() in read("docs/collectors.md")


def test_every_command_is_in_the_readme():
    readme = read("README.md")
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"`statsserver {name}" in readme, name
    assert "`statsserver collect --once`" in readme


def test_architecture_names_every_module():
    architecture = read("docs/architecture.md")
    package = ROOT / "statsserver"
    for path in package.rglob("*.py"):
        if path.name.startswith("__"):
            continue
        relative = path.relative_to(package)
        assert relative.stem in architecture or str(relative.parent) in architecture, relative
