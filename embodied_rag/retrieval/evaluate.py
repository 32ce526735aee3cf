"""Scoring query files (the format of shared/datasets/dev_queries.jsonl) against a memory.

find (and position, temporal): success when the goal lies within ``radius_m`` (ground plane) of a target frame's
camera position or of a target position (``[x, y]``, or ``[x, y, floor height]`` when the goal must also be on that
floor). time: the answer's time within ``tolerance_s`` (15) of ``expect_time`` (ISO-8601). duration: within
``tolerance`` (25 %) of ``expect_duration_s``. count: exactly ``expect_count``. yes_no: ``expect_yes_no``.
explain: success when the answer mentions one of ``expect_any`` (case-insensitive).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from embodied_rag.errors import UserError
from embodied_rag.retrieval.answer import Answer
from embodied_rag.retrieval.retriever import Retriever

# Goals are at the robot base's height (the floor), or at a camera's height above it: within this of a target's
# floor height is the same floor (storeys are at least ~2.5 m apart).
FLOOR_TOLERANCE_M = 1.5


@dataclass
class QueryResult:
    query: str
    kind: str
    mode: str
    success: bool
    latency_ms: float
    llm_calls: int
    answer: str
    detail: dict[str, Any] = field(default_factory=dict)


def load_queries(path: str | Path, dataset: str | None = None) -> list[dict[str, Any]]:
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"Cannot read query file {p}: {exc.strerror}.") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError:
            raise UserError(f"{p} line {n} is not JSON.") from None
        if not isinstance(q, dict) or "query" not in q or "kind" not in q:
            raise UserError(f"{p} line {n} needs 'query' and 'kind'.")
        if dataset is None or q.get("dataset") in (None, dataset):
            out.append(q)
    return out


def score(q: dict[str, Any], answer: Answer, sources: dict[str, tuple[float, float]] | None = None
          ) -> tuple[bool, dict[str, Any]]:
    """Success of one answer; ``sources`` maps frame names (``targets``) to their positions in the memory."""
    if q["kind"] == "explain":
        words = [w.lower() for w in q.get("expect_any", [])]
        hit = [w for w in words if w in answer.answer.lower()]
        return bool(hit), {"matched": hit}
    if q["kind"] == "time" and "expect_time" in q:
        if answer.time_ns is None:
            return False, {"error": "no time"}
        want = datetime.fromisoformat(str(q["expect_time"]).replace("Z", "+00:00")).timestamp()
        off = abs(answer.time_ns / 1e9 - want)
        return off <= float(q.get("tolerance_s", 15.0)), {"off_s": round(off, 1)}
    if q["kind"] == "duration":
        if answer.duration_s is None:
            return False, {"error": "no duration"}
        want = float(q["expect_duration_s"])
        rel = abs(answer.duration_s - want) / max(want, 1e-9)
        return rel <= float(q.get("tolerance", 0.25)), {"duration_s": answer.duration_s,
                                                         "relative_error": round(rel, 3)}
    if q["kind"] == "count":
        return answer.count == int(q["expect_count"]), {"count": answer.count}
    if q["kind"] == "yes_no":
        return answer.yes_no is bool(q["expect_yes_no"]), {"yes_no": answer.yes_no}
    if answer.goal is None:
        return False, {"error": "no goal"}
    gx, gy, gz = answer.goal.position[:3]
    # A target [x, y, floor height] must also be on the goal's floor (heights within FLOOR_TOLERANCE_M).
    targets = [tuple(t[:2]) for t in q.get("target_positions", []) if len(t) < 3 or abs(gz - t[2]) <= FLOOR_TOLERANCE_M]
    wrong_floor = len(targets) < len(q.get("target_positions", []))
    for name in q.get("targets", []):
        if sources and name in sources:
            targets.append(sources[name])
    if not targets:
        return False, {"error": "goal on another floor" if wrong_floor else "targets not in this memory"}
    d = min(math.dist((gx, gy), t) for t in targets)
    return d <= float(q.get("radius_m", 3.0)), {"distance_m": round(d, 2)}


def evaluate(retriever: Retriever, queries: list[dict[str, Any]], modes: list[str]) -> list[QueryResult]:
    results = []
    sources = {kf.source: kf.xy for kf in retriever.memory.keyframes.values()}
    for mode in modes:
        for q in queries:
            ans = retriever.ask(q["query"], kind="auto", mode=mode, robot_position=q.get("from"))
            ok, detail = score(q, ans, sources)
            detail["asked_as"] = ans.kind
            results.append(QueryResult(q["query"], q["kind"], mode, ok, ans.latency_ms, ans.llm_calls, ans.answer,
                                       detail))
    return results


def table(results: list[QueryResult]) -> str:
    """Success per kind and mode, mean latency and LLM calls."""
    groups: dict[tuple[str, str], list[QueryResult]] = defaultdict(list)
    for r in results:
        groups[(r.mode, r.kind)].append(r)
        groups[(r.mode, "all")].append(r)
    lines = [f"{'mode':<9} {'kind':<8} {'success':>10} {'rate':>6} {'latency ms':>11} {'LLM calls':>10}"]
    for (mode, kind), rs in sorted(groups.items(), key=lambda t: (t[0][0], t[0][1] == "all", t[0][1])):
        ok = sum(r.success for r in rs)
        lat = sum(r.latency_ms for r in rs) / len(rs)
        calls = sum(r.llm_calls for r in rs) / len(rs)
        lines.append(f"{mode:<9} {kind:<8} {ok:>4}/{len(rs):<5} {ok / len(rs):>6.0%} {lat:>11.1f} {calls:>10.2f}")
    return "\n".join(lines)
