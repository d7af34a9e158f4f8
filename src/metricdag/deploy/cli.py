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


def cmd_deploy(args: argparse.Namespace) -> int:
    from metricdag.deploy.plan import changed
    from metricdag.deploy.run import deploy
    from metricdag.deploy.target import load_target
    from metricdag.settings import load_environment

    env = load_environment(args.env)
    target = load_target(env)
    changes = deploy(env, target, zip_path=args.zip, build_dir=args.build_dir, emit=lambda c: print(c.line(), flush=True))
    n = len(changed(changes))
    print(f"deployed {env.name}: {n} change(s)" if n else f"deployed {env.name}: nothing changed")
    return 0
