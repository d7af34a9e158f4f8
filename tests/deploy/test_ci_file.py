"""The GitLab pipeline: every job does its work (no placeholder stage that only echoes), `build`
packages, `deploy` deploys (manual for prod), and the scripts it calls exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI_FILE = ROOT / ".gitlab-ci.yml"
KEYWORDS = {"stages", "default", "variables", "cache", "workflow", "include", "image", "services",
            "before_script", "after_script"}
NO_OPS = {"echo", "printf", "true", ":", "sleep", "exit"}
PLACEHOLDER = re.compile(r"\b(TODO|FIXME|XXX|placeholder|not implemented|would (do|deploy|ship))\b|^\s*#?\s*Ship\b",
                         re.IGNORECASE)


def jobs(config: dict) -> dict[str, dict]:
    return {name: job for name, job in config.items()
            if name not in KEYWORDS and not name.startswith(".") and isinstance(job, dict)}


def script_lines(job: dict) -> list[str]:
    """A job's script as GitLab runs it: nested lists (a YAML anchor such as ``*jdk``) flattened."""
    script = job.get("script") or []
    if isinstance(script, str):
        return [script]
    return [line for item in script for line in (item if isinstance(item, list) else [item])]


def is_no_op(line: str) -> bool:
    """A command that only prints (or does nothing): ``echo ...`` without a pipe or a redirect."""
    if any(op in line for op in ("|", ">", "$(", "`")):
        return False
    parts = [p.strip() for p in re.split(r"&&|;|\|\|", line) if p.strip()]
    return all((shlex.split(p, comments=True) or [":"])[0] in NO_OPS for p in parts)


def job_problems(config: dict) -> list[str]:
    problems = []
    for name, job in jobs(config).items():
        script = job.get("script")
        if not script:
            problems.append(f"{name}: no script")
            continue
        lines = script_lines(job)
        for line in lines:
            if is_no_op(line):
                problems.append(f"{name}: {line!r} only prints (a placeholder, not a step)")
            if PLACEHOLDER.search(line):
                problems.append(f"{name}: {line!r} is a placeholder")
        if "rules" in job and {"when", "only", "except"} & job.keys():
            problems.append(f"{name}: `when`/`only`/`except` cannot be used with `rules` (GitLab rejects the job)")
        for script_path in re.findall(r"(?:^|\s)(\.ci/[\w.-]+)", " ".join(lines)):
            if not (ROOT / script_path).is_file():
                problems.append(f"{name}: {script_path} does not exist")
    return problems


def script_problems(path: Path) -> list[str]:
    """A .ci/ script must run something besides printing, and hold no placeholder."""
    commands = [line.strip() for line in path.read_text().splitlines()
                if line.strip() and not line.strip().startswith("#") and not line.strip().startswith("set ")]
    problems = [f"{path.name}: {c!r} is a placeholder" for c in commands if PLACEHOLDER.search(c)]
    if all(is_no_op(c) for c in commands):
        problems.append(f"{path.name}: only prints")
    return problems


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CI_FILE.read_text())


def test_no_job_is_a_placeholder(config):
    assert job_problems(config) == []


def test_a_placeholder_deploy_is_caught():
    placeholder = {"deploy": {"stage": "deploy", "script": [
        "make install", 'echo "Ship dist/*.whl to the code-location image (see README)."']}}
    assert any("only prints" in p for p in job_problems(placeholder))
    assert any("placeholder" in p for p in job_problems({"deploy": {"script": "true && echo done"}}))
    assert job_problems({"j": {"script": ['printf "%s" "$X" | docker login --password-stdin']}}) == []
    assert job_problems({"j": {"when": "manual", "rules": [{"if": "$A"}], "script": ["make test"]}})


def test_ci_scripts_do_real_work():
    scripts = sorted(p for p in (ROOT / ".ci").iterdir() if p.is_file())
    assert scripts
    assert [p for s in scripts for p in script_problems(s)] == []


def test_stages_run_each_job_in_a_declared_stage(config):
    stages = config["stages"]
    assert [j["stage"] for j in jobs(config).values() if j["stage"] not in stages] == []
    assert {"init", "build", "test", "deploy"} <= set(stages)


def test_build_packages_and_deploy_deploys_manually_for_prod(config):
    build, deploy = config["build"], config["deploy"]
    assert "make package" in build["script"]
    assert "package" in make_targets(), "the build job runs `make package`: the Makefile must have that target"
    assert deploy["variables"]["METRICDAG_ENV"] == "prod"
    assert any(r.get("when") == "manual" for r in deploy["rules"])
    ci_deploy = (ROOT / ".ci" / "deploy").read_text()
    assert any(".ci/deploy \"$METRICDAG_ENV\"" in line for line in deploy["script"])
    assert 'metricdag" deploy --env "$env"' in ci_deploy


def test_the_init_stage_checks_the_definitions_and_installs_nothing_it_throws_away():
    config = yaml.safe_load(CI_FILE.read_text())
    init = [job for job in jobs(config).values() if job.get("stage") == "init"]
    assert init, "no job in the init stage"
    lines = [line for job in init for line in script_lines(job)]
    assert any("make validate" in line for line in lines)
    assert not any("apt-get install" in line for line in lines)  # each job is a fresh container
