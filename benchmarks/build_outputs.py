"""Instance layers with and without `build_outputs`, for a repository with compiled extensions.

Builds one env image per arm (reused when its tag exists: its time is then not measured) at
the first commit given, then the instance image of each later commit, removed first so that
its build is timed. The baseline arm is swegc's default (the env's tree cleaned with
`git clean -fdx`, so each instance's install compiles everything again); the other keeps the
env's build outputs.

    python benchmarks/build_outputs.py CLONE ENV_COMMIT COMMIT [COMMIT...] \\
        --install "pip install ..." --install "pip install --no-build-isolation -ve ." \\
        --outputs build/ --pip-date 2024-04-10T00:00:00Z --apt build-essential

Prints one JSON line per image and a Markdown table with the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from swegc.git import GitRepo
from swegc.naming import instance_image_name
from swegc.docker_client import docker_client, image_exists
from swegc.images.builder import EnvRecipe, ImageBuilder, InstanceRecipe
from swegc.images.network import BuildNetwork


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clone", type=Path)
    parser.add_argument("env_commit")
    parser.add_argument("commits", nargs="+")
    parser.add_argument("--install", action="append", required=True)
    parser.add_argument("--outputs", action="append", required=True)
    parser.add_argument("--apt", action="append", default=[])
    parser.add_argument("--pip-date")
    parser.add_argument("--base-image", default="swegc-base:bookworm")
    parser.add_argument("--repo-name", default="bench/build-outputs")
    parser.add_argument("--logs", type=Path, default=Path("build/bench-build-outputs"))
    args = parser.parse_args(argv)

    repo = GitRepo.open(args.clone)
    env_commit = repo.run("rev-parse", args.env_commit).strip()
    builder = ImageBuilder(repo, BuildNetwork.resolve({}), args.logs)
    client = docker_client()
    results: dict[str, dict[str, dict]] = {}
    for arm, outputs in (("baseline", ()), ("build_outputs", tuple(args.outputs))):
        recipe = EnvRecipe(repo=args.repo_name, base_image=args.base_image, env_commit=env_commit,
                           apt=tuple(args.apt), pip_date=args.pip_date,
                           install=tuple(args.install), build_outputs=outputs)
        env = builder.env_image(recipe)
        row = {"arm": arm, "image": env.name, "reused": env.reused, "build_s": round(env.build_s, 1),
               "size_bytes": env.size_bytes, "layer_bytes": env.layer_bytes}
        print(json.dumps(row), flush=True)
        results[arm] = {"env": row}
        for commit in args.commits:
            sha = repo.run("rev-parse", commit).strip()
            instance = InstanceRecipe(instance_id=f"bench__build-outputs-{sha[:8]}", base_commit=sha,
                                      install=tuple(args.install), pip_date=args.pip_date,
                                      build_outputs=outputs)
            name = instance_image_name(instance.instance_id, instance.key(env.key))
            if image_exists(client, name) is not None:
                client.images.remove(name, force=True)  # timed: built again, never reused
            built = builder.instance_image(instance, env, env_commit)
            row = {"arm": arm, "commit": sha[:10], "image": built.name,
                   "build_s": round(built.build_s, 1), "layer_bytes": built.layer_bytes}
            print(json.dumps(row), flush=True)
            results[arm][sha[:10]] = row
    print("\n| commit | baseline layer | build_outputs layer | ratio | baseline build | "
          "build_outputs build | ratio |\n|---|---:|---:|---:|---:|---:|---:|")
    for commit in args.commits:
        sha = repo.run("rev-parse", commit).strip()[:10]
        base, kept = results["baseline"][sha], results["build_outputs"][sha]
        print(f"| {sha} | {_mb(base['layer_bytes'])} | {_mb(kept['layer_bytes'])} | "
              f"{base['layer_bytes'] / max(kept['layer_bytes'], 1):.0f}x | {base['build_s']:.0f} s | "
              f"{kept['build_s']:.0f} s | {base['build_s'] / max(kept['build_s'], 0.1):.1f}x |")


if __name__ == "__main__":
    main(sys.argv[1:])
