"""``metricdag deploy --env ENV``: one line per resource, created / updated / unchanged."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    d = subparsers.add_parser(
        "deploy",
        help="validate, publish the catalog, bake its cache into the build, and create or update the persister "
        "Lambda (version + alias), the event queues and the S3 notifications (deploy/targets/<env>.yaml)",
    )
    d.add_argument("--env", help="environment (default: METRICDAG_ENV, else local)")
    d.add_argument("--zip", type=Path, help="the persister package (default: function.zip of the target)")
    d.add_argument("--build-dir", type=Path, help="where the catalog cache is baked (default: build_dir of the target)")
    d.set_defaults(fn=cmd_deploy)

    h = subparsers.add_parser(
        "helm", help="write deploy/helm/values.yaml (Dagster's Helm chart, one user-code deployment per metric) "
        "from metrics/*/ (--check: fail if out of date)",
    )
    h.add_argument("--check", action="store_true", help="exit 1 when the file differs from metrics/*/")
    h.add_argument("--image", help="the code-location image REPOSITORY:TAG (default: the checked-in placeholder)")
    h.add_argument("--output", type=Path, help="write here instead of deploy/helm/values.yaml (with --image)")
    h.set_defaults(fn=cmd_helm)


def cmd_deploy(args: argparse.Namespace) -> int:
    from metricdag.deploy.plan import changed
    from metricdag.deploy.run import deploy
    from metricdag.deploy.target import load_target
    from metricdag.settings import load_environment

    if args.env:  # every part of the deploy (validation's catalog cache included) resolves this environment
        import os

        os.environ["METRICDAG_ENV"] = args.env
    env = load_environment(args.env)
    target = load_target(env)
    changes = deploy(env, target, zip_path=args.zip, build_dir=args.build_dir, emit=lambda c: print(c.line(), flush=True))
    n = len(changed(changes))
    print(f"deployed {env.name}: {n} change(s)" if n else f"deployed {env.name}: nothing changed")
    return 0


def cmd_helm(args: argparse.Namespace) -> int:
    import sys

    from metricdag.deploy.helm import DEFAULT_IMAGE, HELM_VALUES_FILE, render_helm_values
    from metricdag.settings import find_project_root

    root = find_project_root()
    path = root / HELM_VALUES_FILE
    if args.check:
        if args.image or args.output:
            print("error: --check compares the checked-in file; give it no --image or --output", file=sys.stderr)
            return 2
        if not path.is_file() or path.read_text() != render_helm_values(root):
            print(f"{path} is out of date with metrics/*/: run `metricdag helm`", file=sys.stderr)
            return 1
        print(f"{path} is in sync")
        return 0
    target = args.output or path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_helm_values(root, args.image or DEFAULT_IMAGE))
    print(f"wrote {target}")
    return 0
