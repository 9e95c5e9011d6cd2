"""API requests per candidate: a first run, an unchanged rerun, and a rerun after a few changes.

Runs ``mine_candidates`` against the GitHub stand-in (which counts every request) over a
generated repository with N extra merge-commit pull requests, each closing one issue::

    python benchmarks/mining_requests.py --pulls 200 --per-page 100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from swegc.compiler.spec import model as specs
from swegc.compiler.mining.github_client import GithubClient
from swegc.compiler.mining.miner import mine_candidates
from swegc.store import BuildStore
from swegc.testing.github_standin import GithubStandin, make_sample


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pulls", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--no-clone", action="store_true", help="diffs from the API")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sample = make_sample(Path(tmp) / "repo", extra_pulls=args.pulls)
        store = BuildStore(Path(tmp) / "store.sqlite")
        with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
            spec = specs.RepoSpec(
                path=Path("bench.yaml"), repo=sample.repo,
                source=specs.SourceSpec(kind="github",
                                        clone=None if args.no_clone else sample.git_dir,
                                        github=specs.GithubSource(gh.base_url, args.per_page)),
                tests=specs.TestsSpec(files=("tests/**",), command="pytest", parser="pytest"),
                version=specs.VersionSpec(strategy="fixed", value="1"), environments=())

            def run(label: str) -> None:
                before = len(gh.requests)
                started = time.perf_counter()
                found = mine_candidates(spec, store, client=GithubClient(gh.base_url, []))
                seconds = time.perf_counter() - started
                done = gh.requests[before:]
                kinds: dict[str, int] = {}
                for r in done:
                    key = f"{r.kind}{'-304' if r.status == 304 else ''}"
                    kinds[key] = kinds.get(key, 0) + 1
                charged = sum(1 for r in done if r.status != 304)
                print(f"{label:<28} candidates {len(found):>4}  requests {len(done):>4} "
                      f"(charged {charged:>3}, {charged / len(found):.3f}/candidate)  "
                      f"{seconds:6.2f}s  {kinds}")

            run("first run")
            run("rerun, nothing changed")
            for number in (100, 101, 102):
                gh.pulls[number] = replace(gh.pulls[number], title="edited",
                                           updated_at="2025-01-01T00:00:00Z")
            run("rerun, 3 pull requests edited")


if __name__ == "__main__":
    main()
