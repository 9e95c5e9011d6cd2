"""Training throughput (tokens/s) and peak memory of RFT and the verifier.

CPU (default): the tiny Qwen2 model on synthetic trajectories, for regression tracking only.
GPU: pass a realistic model and length, e.g.

    python benchmarks/train_throughput.py --base-model Qwen/Qwen2.5-Coder-7B-Instruct \
        --max-length 32768 --filler 2000 --steps 4 --lora

Prints one JSON line per run (kind, device, tokens/s, peak memory, steps, seconds).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from swegc.train.config import Hyper, RFTConfig, VerifierConfig
from swegc.train.rft import run_rft
from swegc.train.runs import Located
from swegc.train.tiny import save_tiny
from swegc.train.toy import corpus, toy_trajectory
from swegc.train.verifier import run_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-model", default=None, help="model id or folder (default: a tiny local Qwen2)")
    parser.add_argument("--instances", type=int, default=16, help="synthetic instances")
    parser.add_argument("--samples", type=int, default=4, help="trajectories per instance")
    parser.add_argument("--filler", type=int, default=40, help="padding lines per tool output (length knob)")
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=8, help="optimiser steps per run")
    parser.add_argument("--batch-size", type=int, default=8, help="effective batch size")
    parser.add_argument("--per-device-batch-size", type=int, default=1)
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--only", choices=["rft", "verifier"], default=None)
    args = parser.parse_args()

    trajs = [toy_trajectory(f"bench__repo-{i}", f"s{j}", resolved=(i + j) % 2 == 0, steps=3 + j % 3,
                            filler=args.filler) for i in range(args.instances) for j in range(args.samples)]
    located = [Located(f"bench:{n}", "bench", t) for n, t in enumerate(trajs)]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base_model or str(save_tiny(Path(tmp) / "tiny", corpus(trajs)))
        hyper = Hyper(max_length=args.max_length, max_steps=args.steps, effective_batch_size=args.batch_size,
                      per_device_batch_size=args.per_device_batch_size, lora=args.lora, merge_lora=False,
                      logging_steps=1000)
        runs = []
        if args.only in (None, "rft"):
            _, res = run_rft(located, RFTConfig(base_model=base, out_dir=f"{tmp}/rft", cap=args.samples,
                                                hyper=hyper), echo=lambda _: None)
            runs.append(("rft", res))
        if args.only in (None, "verifier"):
            _, res = run_verifier(located, VerifierConfig(base_model=base, out_dir=f"{tmp}/ver", hyper=hyper),
                                  set(), None, echo=lambda _: None)
            runs.append(("verifier", res))
        for kind, res in runs:
            print(json.dumps({"kind": kind, "model": args.base_model or "tiny-qwen2 (h64, 2 layers)",
                              "device": res.device, "tokens_per_second": round(res.tokens_per_second, 1),
                              "peak_memory_mb": round(res.peak_memory_mb, 1), "steps": res.steps,
                              "examples": res.examples, "tokens": res.tokens, "seconds": round(res.seconds, 2),
                              "lora": args.lora}))


if __name__ == "__main__":
    main()
