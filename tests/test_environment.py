"""The project's set-up files agree with each other."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {req.replace(" ", "") for req in project["dependencies"] + project["optional-dependencies"]["dev"]}


def _conda_pip_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    return {req.replace(" ", "") for section in pip_sections for req in section}


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert "torch==2.13.0" in _pyproject_requirements()


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
