"""Questions of every kind, measured: simulated buildings (held-out seeds and phrasings, detector and depth faults
on) scored per kind by ground truth; the preqa_house data set's own existence and counting questions; the real-data
questions of ``benchmarks/real_questions.jsonl``; and the cost of understanding a question without an LLM.

    .venv/bin/python benchmarks/bench_questions.py                    # about 6 min on 2 cores
    .venv/bin/python benchmarks/bench_questions.py --seeds 301,302 --pool test
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

from embodied_rag.config import Config
from embodied_rag.models import registry
from embodied_rag.retrieval.evaluate import evaluate, load_queries, table
from embodied_rag.retrieval.query import parse_query
from embodied_rag.retrieval.retriever import Retriever
from embodied_rag.retrieval.time_window import has_time, parse_time
from embodied_rag.sim.detector import SensorFaults
from embodied_rag.sim.evaluation import evaluate_building, summarise

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def simulated(seeds: list[int], pool: str, text) -> list[dict]:
    results = []
    for s in seeds:
        floors, rooms = 1 + s % 3, 8 + 2 * ((s // 3) % 7)
        t0 = time.perf_counter()
        results.append(evaluate_building(s, floors, rooms, text, pool=pool, faults=SensorFaults.realistic(),
                                         modes=("beam",), finds=False, kinds=True))
        print(f"  seed {s}: {floors} floor(s) x {rooms} rooms, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return results


def preqa(text) -> dict[str, tuple[int, int]]:
    """The data set's existence (yes/no) and counting questions against a memory built from its labels."""
    from embodied_rag.api import Models, build_memory

    root = DATASETS / "preqa_house"
    out: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        build_memory(root, Path(tmp) / "m", Config(), models=Models.for_ingest(Config(), text=text))
        from embodied_rag.memory.memory import Memory

        with Memory(Path(tmp) / "m", Config(), writable=False) as memory:
            r = Retriever(memory, text)
            for row in csv.DictReader((root / "questions.csv").open()):
                kind = row["question_type"]
                if not kind.startswith(("existence", "count")):
                    continue
                ans = r.ask(row["question"])
                if kind.startswith("existence"):
                    ok = ans.yes_no is (row["answer"] == "yes")
                else:
                    ok = ans.count == int(row["answer"])
                n_ok, n = out.get(kind, (0, 0))
                out[kind] = (n_ok + ok, n + 1)
    return out


def real(text) -> str:
    from embodied_rag.api import Models, build_memory
    from embodied_rag.memory.memory import Memory

    lines = []
    for name in ("coex_lobby", "preqa_house"):
        with tempfile.TemporaryDirectory() as tmp:
            build_memory(DATASETS / name, Path(tmp) / "m", Config(), models=Models.for_ingest(Config(), text=text))
            with Memory(Path(tmp) / "m", Config(), writable=False) as memory:
                for path in (REPO / "benchmarks" / "real_questions.jsonl", DATASETS / "dev_queries.jsonl"):
                    qs = load_queries(path, name)
                    res = evaluate(Retriever(memory, text), qs, ["beam", "flat"])
                    lines.append(f"{name}, {path.name}:\n{table(res)}")
    return "\n".join(lines)


def parse_cost(questions: list[str], now_ns: int) -> dict[str, float]:
    """Milliseconds to understand a question without an LLM (cue words, slots, time expressions)."""
    for q in questions[:5]:  # warm-up: dateparser, the names of things and the typo table are loaded once
        parse_query(q)
        parse_time(q, now_ns) if has_time(q) else None
    times = []
    for q in questions:
        t0 = time.perf_counter()
        parse_query(q)
        if has_time(q):
            parse_time(q, now_ns)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"n": len(times), "p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))],
            "max_ms": times[-1]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="301,302,303,304,305,306", help="building seeds (comma-separated)")
    ap.add_argument("--pool", default="test", choices=("dev", "test"), help="phrasing pool")
    ap.add_argument("--skip-real", action="store_true", help="no shared data sets")
    args = ap.parse_args(argv)
    text = registry.create_text_embedder(Config().models.text_embedder)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    results = simulated(seeds, args.pool, text)
    sm = summarise(results)
    print(f"\nsimulated buildings, seeds {args.seeds}, {args.pool} phrasings, faulty sensors (beam):")
    for key, t in sm["table"].items():
        print(f"  {key.split('/', 1)[1]:<10} {t['ok']:>4}/{t['n']:<4} {t['ok'] / t['n']:>5.0%}")
    questions = [row["query"] for r in results for row in r["rows"]]
    cost = parse_cost(questions, 1_700_000_000 * 10**9)
    print(f"\nunderstanding without an LLM: {cost['n']} questions, p50 {cost['p50_ms']:.2f} ms, "
          f"p95 {cost['p95_ms']:.2f} ms, max {cost['max_ms']:.2f} ms")
    if not args.skip_real and (DATASETS / "preqa_house").is_dir():
        print("\npreqa_house's own questions (its labels as detections, no depth):")
        for kind, (ok, n) in sorted(preqa(text).items()):
            print(f"  {kind:<28} {ok:>4}/{n:<4} {ok / n:>5.0%}")
        print("\n" + real(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
