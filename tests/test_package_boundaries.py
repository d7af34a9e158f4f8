"""The five parts of the repository and what each may import (README, "Packages").

Every module of every part is parsed with ``ast`` and each ``import`` / ``from ... import``
(module level or inside a function) is checked against the rules:

- the platform (``src/metricdag``) imports none of the other four parts;
- the catalog service and the token service import only the platform's shared modules named
  in ``SERVICE_SHARED`` (and not each other);
- the local stack imports the platform and both services (it runs them), never the testing framework;
- the testing framework imports the platform, and of the local stack only its sample data.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PLATFORM = "metricdag"
CATALOG_SERVICE = "metricdag_catalog_service"
TOKEN_SERVICE = "metricdag_token_service"
LOCALSTACK = "metricdag_localstack"
TESTING = "metricdag_testing"

PARTS: dict[str, Path] = {
    PLATFORM: ROOT / "src" / "metricdag",
    CATALOG_SERVICE: ROOT / "packages" / "metricdag-catalog-service" / "src" / CATALOG_SERVICE,
    TOKEN_SERVICE: ROOT / "packages" / "metricdag-token-service" / "src" / TOKEN_SERVICE,
    LOCALSTACK: ROOT / "packages" / "metricdag-localstack" / "src" / LOCALSTACK,
    TESTING: ROOT / "packages" / "metricdag-testing" / "src" / TESTING,
}

# The platform modules a service may import: the catalog API's models (shared by the client and
# the service), errors, the services' JSON handling, token verification and which URLs may carry
# credentials, the environment files (where published coordinates may point), typed YAML and the
# strict base model every typed model shares.
SERVICE_SHARED: dict[str, frozenset[str]] = {
    CATALOG_SERVICE: frozenset({
        "metricdag.catalog.models", "metricdag.catalog.run_locks", "metricdag.catalog.snapshots",
        "metricdag.asgi",
        "metricdag.auth.tokens", "metricdag.auth.middleware", "metricdag.auth.transport",
        "metricdag.settings", "metricdag.io.objectstore",
    }),
    TOKEN_SERVICE: frozenset({
        "metricdag.errors", "metricdag.auth.tokens", "metricdag.yamlio", "metricdag.schema", "metricdag.asgi",
    }),
}

# Of the local stack, the testing framework uses only the local sample of a source dataset
# (`metricdag snapshot bootstrap`).
TESTING_FROM_LOCALSTACK = frozenset({"metricdag_localstack.sample_data"})


def module_name(part: str, path: Path) -> str:
    parts = [part, *path.relative_to(PARTS[part]).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(part: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import of the project's own parts in ``path``."""
    name = module_name(part, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
            # `from metricdag.catalog import models` imports the module metricdag.catalog.models
            names = [f"{names[0]}.{a.name}" if _is_module(f"{names[0]}.{a.name}") else names[0] for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if part_of(n) is not None]
    return out


def part_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in PARTS else None


def _is_module(module: str) -> bool:
    part = part_of(module)
    if part is None:
        return False
    rel = Path(*module.split(".")[1:])
    base = PARTS[part] / rel
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def allowed(part: str, module: str) -> bool:
    target = part_of(module)
    if target == part:
        return True
    if part == PLATFORM:
        return False
    if part in SERVICE_SHARED:
        return target == PLATFORM and module in SERVICE_SHARED[part]
    if part == LOCALSTACK:
        return target in (PLATFORM, CATALOG_SERVICE, TOKEN_SERVICE)
    if part == TESTING:
        return target == PLATFORM or module in TESTING_FROM_LOCALSTACK
    raise AssertionError(f"no rule for part {part}")


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def violations(part: str) -> list[str]:
    out = []
    for path in sorted(PARTS[part].rglob("*.py")):
        for line, module in imported_modules(part, path):
            if not allowed(part, module):
                out.append(f"{shown(path)}:{line}: {part} imports {module}")
    return out


@pytest.mark.parametrize("part", sorted(PARTS))
def test_part_imports_only_what_its_rule_allows(part):
    assert sorted(PARTS[part].rglob("*.py")), f"no modules under {PARTS[part]}"
    assert violations(part) == []


def test_every_import_of_a_part_names_a_module_that_exists():
    missing = [
        f"{shown(path)}:{line}: no module {module}"
        for part in PARTS
        for path in sorted(PARTS[part].rglob("*.py"))
        for line, module in imported_modules(part, path)
        if not _is_module(module)
    ]
    assert missing == []


def test_the_shared_modules_named_for_the_services_exist_and_are_used():
    for service, shared in SERVICE_SHARED.items():
        used = {m for path in PARTS[service].rglob("*.py") for _, m in imported_modules(service, path)}
        assert sorted(m for m in shared if not _is_module(m)) == [], service
        assert sorted(shared - used) == [], f"{service}: named as shared but not imported (drop it from the list)"


def test_the_rules_catch_a_forbidden_import(tmp_path, monkeypatch):
    """A platform module importing the testing framework, and a service importing a platform
    module outside its list, are both reported with file and line."""
    fake = tmp_path / "metricdag"
    (fake / "changes").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "changes" / "__init__.py").write_text("")
    (fake / "changes" / "compare.py").write_text("import os\n\ndef f():\n    from metricdag_testing.node_test import x\n")
    service = tmp_path / TOKEN_SERVICE
    service.mkdir()
    (service / "__init__.py").write_text("from metricdag.factory import assets\n")
    monkeypatch.setitem(PARTS, PLATFORM, fake)
    monkeypatch.setitem(PARTS, TOKEN_SERVICE, service)
    assert [v.split(": ", 1)[1] for v in violations(PLATFORM)] == ["metricdag imports metricdag_testing.node_test"]
    assert violations(PLATFORM)[0].endswith("compare.py:4: metricdag imports metricdag_testing.node_test")
    assert [v.split(": ", 1)[1] for v in violations(TOKEN_SERVICE)] == ["metricdag_token_service imports metricdag.factory"]


def test_the_code_location_wheel_and_the_lambda_zip_carry_the_platform_only(tmp_path):
    """`make package`: the wheel holds the platform's modules and requires none of the other
    parts' dependencies; the persister's zip carries no module of another part."""
    import zipfile

    from metricdag import packaging

    wheel = packaging.build_wheel(tmp_path, ROOT)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (metadata_file,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [line.split(":", 1)[1].strip() for line in zf.read(metadata_file).decode().splitlines()
                    if line.startswith("Requires-Dist:") and "extra ==" not in line]
    tops = {n.split("/")[0] for n in names}
    assert tops == {"metricdag", metadata_file.split("/")[0]}
    assert "metricdag/settings.py" in names and "metricdag/factory/assets.py" in names
    assert not [n for n in names if n.split("/")[1] in ("catalog_service", "localstack", "testing")]
    assert {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in requires}.isdisjoint(
        {"fakesnow", "aiosmtpd", "pytest-bdd", "uvicorn", "alembic", "fastapi", "PyJWT", "moto"}
    )
    entries = packaging.zip_entries(ROOT)
    assert "metricdag/persistence/handler.py" in entries
    assert not [a for a in entries if a.split("/")[0] in (CATALOG_SERVICE, TOKEN_SERVICE, LOCALSTACK, TESTING)]
