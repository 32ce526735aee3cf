"""A top-down picture of a memory: keyframes coloured by area, travel edges, named areas of the forest and the goals
of answered queries. PNG through matplotlib; HTML = the same map as inline SVG plus tables of areas and answers."""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrow, Rectangle  # noqa: E402

from embodied_rag.memory.memory import Memory  # noqa: E402
from embodied_rag.retrieval.answer import Answer  # noqa: E402


@dataclass
class AskedQuery:
    question: str
    answer: Answer


def _figure(memory: Memory, queries: list[AskedQuery], title: str):
    kfs = list(memory.keyframes.values())
    forest = memory.forest
    fig, ax = plt.subplots(figsize=(11, 8.5), dpi=110)
    if not kfs:
        ax.text(0.5, 0.5, "empty memory", ha="center", va="center", transform=ax.transAxes)
        return fig
    pos = np.array([kf.pose.position for kf in kfs])
    span = float(max(np.ptp(pos[:, 0]), np.ptp(pos[:, 1]), 1.0))
    # Travel edges first, faint, so the points stay readable.
    g = memory.graph.g
    for a, b in memory.graph.travel_edges():
        pa, pb = g.nodes[a]["pos"], g.nodes[b]["pos"]
        ax.plot([pa[0], pb[0]], [pa[1], pb[1]], color="#bbbbbb", lw=0.6, zorder=1)
    areas = sorted(forest.level_nodes(1), key=lambda n: n.id)
    cmap = plt.get_cmap("tab20")
    colour_of = {n.id: cmap(i % 20) for i, n in enumerate(areas)}
    colours = [colour_of.get(forest.leaf_parent.get(kf.id), (0.4, 0.4, 0.4, 1)) for kf in kfs]
    size = max(4.0, min(30.0, 4000.0 / max(len(kfs), 1)))
    ax.scatter(pos[:, 0], pos[:, 1], c=colours, s=size, zorder=3, linewidths=0)
    # Heading ticks on a sample of keyframes show which way the camera looked.
    step = max(1, len(kfs) // 150)
    for kf in kfs[::step]:
        yaw = kf.pose.heading()
        if yaw is not None:
            ax.plot([kf.xy[0], kf.xy[0] + 0.02 * span * math.cos(yaw)],
                    [kf.xy[1], kf.xy[1] + 0.02 * span * math.sin(yaw)], color="#555555", lw=0.5, zorder=2)
    # Level-2 areas as dashed boxes, level-1 names at their centroids (the largest ones when there are many).
    for node in forest.level_nodes(2) if forest.depth > 2 else []:
        lo, hi = node.lo, node.hi
        ax.add_patch(Rectangle((lo[0], lo[1]), max(hi[0] - lo[0], 0.1), max(hi[1] - lo[1], 0.1), fill=False,
                               ls="--", lw=0.8, ec="#7a7a7a", zorder=2))
    # Name the level-1 areas when they are few; otherwise the larger areas above them, so labels stay legible.
    named = areas if len(areas) <= 40 or forest.depth < 2 else forest.level_nodes(2)
    labelled = sorted(named, key=lambda n: -n.n)[:30]
    for node in labelled:
        c = node.centroid
        ax.text(c[0], c[1], node.name or f"area {node.id}", fontsize=7, ha="center", va="bottom", zorder=5,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour_of.get(node.id, "#7a7a7a"),
                      "alpha": 0.85})
    for i, q in enumerate(queries, 1):
        goal = q.answer.goal
        if goal is None:
            continue
        x, y = goal.position[:2]
        qx, qy, qz, qw = goal.orientation
        yaw = math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
        ax.add_patch(FancyArrow(x, y, 0.04 * span * math.cos(yaw), 0.04 * span * math.sin(yaw),
                                width=0.006 * span, color="crimson", zorder=6))
        ax.text(x, y, f" Q{i}", color="crimson", fontsize=9, fontweight="bold", zorder=7, va="top")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f"x [m] ({memory.config.frame_id})")
    ax.set_ylabel("y [m]")
    ax.set_title(f"{title}: {len(kfs)} keyframes, {len(areas)} areas, forest of {forest.depth} levels")
    ax.grid(True, lw=0.3, alpha=0.5)
    fig.tight_layout()
    return fig


def write_png(memory: Memory, out: Path, queries: list[AskedQuery] | None = None, title: str = "memory") -> Path:
    fig = _figure(memory, queries or [], title)
    fig.savefig(out)
    plt.close(fig)
    return out


def write_html(memory: Memory, out: Path, queries: list[AskedQuery] | None = None, title: str = "memory") -> Path:
    queries = queries or []
    fig = _figure(memory, queries, title)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    forest = memory.forest
    rows = []
    for level in range(forest.depth, 0, -1):
        for node in sorted(forest.level_nodes(level), key=lambda n: -n.n)[:30]:
            rows.append(f"<tr><td>{level}</td><td>node:{node.id}</td><td>{html.escape(node.name)}</td>"
                        f"<td>{node.n}</td><td>{html.escape(node.summary)}</td></tr>")
    qrows = []
    for i, q in enumerate(queries, 1):
        g = q.answer.goal
        goal = f"({g.position[0]:.1f}, {g.position[1]:.1f})" if g else "–"
        qrows.append(f"<tr><td>Q{i}</td><td>{html.escape(q.question)}</td><td>{html.escape(q.answer.answer)}</td>"
                     f"<td>{goal}</td><td>{html.escape(' '.join(q.answer.evidence[:4]))}</td></tr>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top;text-align:left}}
th{{background:#f0f0f0}} svg{{max-width:100%;height:auto}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Top-down map of the memory in the <code>{html.escape(memory.config.frame_id)}</code> frame: dots are keyframes
coloured by their area, grey lines the robot's travel, labels the areas' names, dashed boxes the larger areas above
them, red arrows the goal poses of the answered queries (Q1, Q2, ...).</p>
{svg}
<h2>Queries</h2>
<table><tr><th></th><th>question</th><th>answer</th><th>goal</th><th>evidence</th></tr>{''.join(qrows)}</table>
<h2>Areas of the semantic forest</h2>
<table><tr><th>level</th><th>id</th><th>name</th><th>keyframes</th><th>summary</th></tr>{''.join(rows)}</table>
</body></html>
"""
    out.write_text(page, encoding="utf-8")
    return out
