"""A top-down picture of a memory, one panel per floor: the free space depth showed (light: free, dark: occupied),
the building's outline where it is known, keyframes coloured by area, travel edges, named areas of the forest, the
object instances the robot is sure of (labelled markers) and the goals of answered queries. PNG through matplotlib;
HTML = the same map as inline SVG (one section per floor, with a table of its objects) plus tables of areas and
answers."""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import is_color_like  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrow, Patch, Rectangle  # noqa: E402

from embodied_rag.errors import UserError  # noqa: E402
from embodied_rag.memory.keyframe import Keyframe  # noqa: E402
from embodied_rag.memory.memory import Memory  # noqa: E402
from embodied_rag.memory.objects import ObjectInstance  # noqa: E402
from embodied_rag.retrieval.answer import Answer  # noqa: E402

FREE_RGBA = (0.86, 0.91, 0.95, 1.0)
OCCUPIED_RGBA = (0.25, 0.27, 0.30, 1.0)
OUTLINE_COLOUR = "#2b5d8a"
OBJECT_EDGE = "#1a1a1a"
# Colour words of captions that matplotlib does not know (others, "light blue" → "lightblue", are its own names).
_SWATCHES = {"wooden": "#b5835a", "cream": "#f3ead3", "gold": "#d4af37", "multicoloured": "#c8a2c8"}
_BASE_SCAN_M = 2.0  # without a usable camera mount, free space is looked for this far below a floor's camera height


@dataclass
class AskedQuery:
    question: str
    answer: Answer


@dataclass(frozen=True)
class OutlineRoom:
    """One room of a known building outline: its rectangle (x0, y0, x1, y1) in the memory frame, the height of the
    floor it is on (memory frame; matched to the memory's floors by height) and its name."""

    extent: tuple[float, float, float, float]
    z: float = 0.0
    name: str = ""


def outline_from_rooms(rooms: Iterable) -> list[OutlineRoom]:
    """An outline from room records with ``extent`` and ``z`` (and optionally ``name``): the simulator's
    ``Building.rooms`` or the dicts under "rooms" in a recording's ``ground_truth.json``."""
    out = []
    for r in rooms:
        get = r.get if isinstance(r, dict) else lambda k, d=None, r=r: getattr(r, k, d)
        extent = get("extent")
        if extent is None or len(extent) != 4:
            raise ValueError(f"a room of the outline needs an extent [x0, y0, x1, y1], got {extent!r}")
        out.append(OutlineRoom(tuple(float(v) for v in extent), float(get("z", 0.0) or 0.0),
                               str(get("name", "") or "")))
    return out


def load_outline(path: Path) -> list[OutlineRoom]:
    """Rooms from a JSON file: ``{"rooms": [{"extent": [x0, y0, x1, y1], "z": 0.0, "name": "kitchen 1"}, ...]}``
    (a simulated recording's ``ground_truth.json`` is one) or that list alone."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"Cannot read the outline {path}: {exc}") from None
    rooms = data.get("rooms") if isinstance(data, dict) else data
    if not isinstance(rooms, list):
        raise UserError(f"{path} has no list of rooms (expected {{'rooms': [{{'extent': [x0, y0, x1, y1]}}, ...]}}).")
    try:
        return outline_from_rooms(rooms)
    except (ValueError, TypeError, AttributeError) as exc:
        raise UserError(f"{path}: {exc}") from None


@dataclass
class _Floor:
    index: int
    camera_z: float  # the floor's band of camera heights
    base_z: float  # where the robot base stood on it
    keyframes: list[Keyframe] = field(default_factory=list)
    objects: list[ObjectInstance] = field(default_factory=list)
    occupancy: tuple[np.ndarray, tuple[float, float]] | None = None  # cropped image, origin
    rooms: list[OutlineRoom] = field(default_factory=list)
    goals: list[tuple[int, tuple[float, float, float], tuple[float, float, float, float]]] = field(default_factory=list)


def _merge(images: list[tuple[np.ndarray, tuple[float, float]]], res: float) -> tuple[np.ndarray, tuple[float, float]]:
    """Occupancy images of one floor (free-space floor keys either side of a rounding boundary) on one grid:
    occupied beats free beats unknown."""
    x0 = min(o[0] for _, o in images)
    y0 = min(o[1] for _, o in images)
    cols = [round((o[0] - x0) / res) for _, o in images]
    rows = [round((o[1] - y0) / res) for _, o in images]
    w = max(c + img.shape[1] for (img, _), c in zip(images, cols))
    h = max(r + img.shape[0] for (img, _), r in zip(images, rows))
    out = np.full((h, w), -1, dtype=np.int8)
    for (img, _), c, r in zip(images, cols, rows):
        sub = out[r:r + img.shape[0], c:c + img.shape[1]]
        np.maximum(sub, img, out=sub)
    return out, (x0, y0)


def _crop(img: np.ndarray, origin: tuple[float, float], res: float) -> tuple[np.ndarray, tuple[float, float]] | None:
    seen = img >= 0
    if not seen.any():
        return None
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return img[r0:r1, c0:c1], (origin[0] + c0 * res, origin[1] + r0 * res)


def _floors(memory: Memory, queries: Sequence[AskedQuery], outline: Sequence[OutlineRoom]) -> list[_Floor]:
    """The memory split by floor: keyframes and objects by camera height (FloorIndex), free space by the robot
    base's height, outline rooms and query goals by the nearest floor height."""
    idx = memory.floors
    kfs = list(memory.keyframes.values())
    levels = [float(z) for z in idx.levels] if kfs else []
    if not levels:
        levels = [0.0]
    floors = [_Floor(i, z, z) for i, z in enumerate(levels)]

    def floor_of(z: float) -> int:
        return min(idx.floor_of(z), len(floors) - 1) if len(idx) else 0

    for kf in kfs:
        floors[floor_of(kf.pose.position[2])].keyframes.append(kf)
    # Base heights: the camera pose composed with the robot's camera mount (config ingest.body_to_camera).
    base_keys: list[dict[int, float]] = [{} for _ in floors]
    free = memory.free_space
    for fl, keys in zip(floors, base_keys):
        sample = fl.keyframes[:: max(1, len(fl.keyframes) // 200)]
        bases = [memory.base_pose(kf.pose).position[2] for kf in sample]
        if bases:
            fl.base_z = float(np.median(bases))
            for bz in bases:
                keys.setdefault(free.floor_key(bz), bz)
    tile_keys = {k[0] for k in free.tiles}
    for fl, keys in zip(floors, base_keys):
        found = {k: z for k, z in keys.items() if k in tile_keys}
        if not found and tile_keys:
            # The mount in the config is not the one the memory was built with: take the free space a little
            # below this floor's camera height (a robot carries its camera above its base).
            hits: dict[int, list[float]] = {}
            for z in np.arange(fl.camera_z - _BASE_SCAN_M, fl.camera_z + 0.01, free.res / 2):
                k = free.floor_key(float(z))
                if k in tile_keys:
                    hits.setdefault(k, []).append(float(z))
            if hits:
                found = {k: float(np.mean(zs)) for k, zs in hits.items()}
                fl.base_z = float(np.mean(list(found.values())))
        images = [occ for z in found.values() if (occ := free.occupancy(z)) is not None]
        if images:
            fl.occupancy = _crop(*_merge(images, free.res), free.res)
    offset = float(np.median([fl.camera_z - fl.base_z for fl in floors]))  # camera above base
    for inst in memory.objects.confirmed():
        floors[floor_of(inst.level_z)].objects.append(inst)
    for room in outline:
        fl = floors[floor_of(room.z + offset)]
        if abs(room.z - fl.base_z) <= _BASE_SCAN_M:  # rooms of floors the robot never reached stay out
            fl.rooms.append(room)
    for i, q in enumerate(queries, 1):
        g = q.answer.goal
        if g is not None:
            floors[floor_of(g.position[2] + offset)].goals.append((i, tuple(g.position), tuple(g.orientation)))
    return floors


def _bounds(floors: list[_Floor], res: float) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for fl in floors:
        xs += [kf.pose.position[0] for kf in fl.keyframes] + [float(o.position[0]) for o in fl.objects]
        ys += [kf.pose.position[1] for kf in fl.keyframes] + [float(o.position[1]) for o in fl.objects]
        for r in fl.rooms:
            xs += [r.extent[0], r.extent[2]]
            ys += [r.extent[1], r.extent[3]]
        if fl.occupancy is not None:
            img, (ox, oy) = fl.occupancy
            xs += [ox, ox + img.shape[1] * res]
            ys += [oy, oy + img.shape[0] * res]
        xs += [g[1][0] for g in fl.goals]
        ys += [g[1][1] for g in fl.goals]
    if not xs:
        return -1.0, -1.0, 1.0, 1.0
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = 0.04 * max(x1 - x0, y1 - y0, 2.0)
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def _swatch(colour: str) -> str:
    c = colour.lower().strip()
    if c in _SWATCHES:
        return _SWATCHES[c]
    c = c.replace(" ", "")
    return c if c and is_color_like(c) else "#ffffff"


def _draw_floor(ax, memory: Memory, fl: _Floor, colour_of: dict[int, tuple], areas_named: list, span: float,
                res: float, n_floors: int) -> list[_Label]:
    forest = memory.forest
    if fl.occupancy is not None:
        img, (ox, oy) = fl.occupancy
        rgba = np.zeros((*img.shape, 4))
        rgba[img == 0] = FREE_RGBA
        rgba[img == 1] = OCCUPIED_RGBA
        ax.imshow(rgba, origin="lower", interpolation="nearest", zorder=0,
                  extent=(ox, ox + img.shape[1] * res, oy, oy + img.shape[0] * res))
    for room in fl.rooms:
        x0, y0, x1, y1 = room.extent
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.9, ec=OUTLINE_COLOUR, zorder=1.5))
        if room.name:
            ax.text(x0 + 0.01 * span, y1 - 0.01 * span, room.name, fontsize=6, color=OUTLINE_COLOUR, style="italic",
                    ha="left", va="top", zorder=1.6, clip_on=True)
    on_floor = {kf.id for kf in fl.keyframes}
    g = memory.graph.g
    for a, b in memory.graph.travel_edges():
        if a in on_floor and b in on_floor:
            pa, pb = g.nodes[a]["pos"], g.nodes[b]["pos"]
            ax.plot([pa[0], pb[0]], [pa[1], pb[1]], color="#999999", lw=0.6, zorder=2)
    kfs = fl.keyframes
    if kfs:
        pos = np.array([kf.pose.position for kf in kfs])
        colours = [colour_of.get(forest.leaf_parent.get(kf.id), (0.4, 0.4, 0.4, 1)) for kf in kfs]
        size = max(4.0, min(30.0, 4000.0 / max(len(kfs), 1)))
        ax.scatter(pos[:, 0], pos[:, 1], c=colours, s=size, zorder=3, linewidths=0)
        # Heading ticks on a sample of keyframes show which way the camera looked.
        step = max(1, len(kfs) // 150)
        for kf in kfs[::step]:
            yaw = kf.pose.heading()
            if yaw is not None:
                ax.plot([kf.xy[0], kf.xy[0] + 0.02 * span * math.cos(yaw)],
                        [kf.xy[1], kf.xy[1] + 0.02 * span * math.sin(yaw)], color="#555555", lw=0.5, zorder=2.5)

    def here(node) -> bool:
        return n_floors == 1 or memory.floors.floor_of(float(node.centroid[2])) == fl.index

    # Level-2 areas as dashed boxes, area names at their centroids.
    for node in forest.level_nodes(2) if forest.depth > 2 else []:
        if here(node):
            lo, hi = node.lo, node.hi
            ax.add_patch(Rectangle((lo[0], lo[1]), max(hi[0] - lo[0], 0.1), max(hi[1] - lo[1], 0.1), fill=False,
                                   ls="--", lw=0.8, ec="#7a7a7a", zorder=2))
    labels = []
    for node in [n for n in areas_named if here(n)][:30]:
        c = node.centroid
        labels.append(_Label(node.name or f"area {node.id}", (float(c[0]), float(c[1])), _AREA_SPOTS,
                             {"fontsize": 7, "zorder": 5,
                              "bbox": {"boxstyle": "round,pad=0.2", "fc": "white",
                                       "ec": colour_of.get(node.id, "#7a7a7a"), "alpha": 0.85}}))
    if fl.objects:
        ax.scatter([o.position[0] for o in fl.objects], [o.position[1] for o in fl.objects], marker="D", s=34,
                   c=[_swatch(o.colour) for o in fl.objects], edgecolors=OBJECT_EDGE, linewidths=0.9, zorder=7.5)
        for o in sorted(fl.objects, key=lambda o: (-o.n, o.id)):  # the most observed choose their spot first
            labels.append(_Label(o.name, (float(o.position[0]), float(o.position[1])), _OBJECT_SPOTS,
                                 {"fontsize": 6, "zorder": 9, "color": "#111111",
                                  "bbox": {"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7}}))
    for i, (x, y, _z), (qx, qy, qz, qw) in fl.goals:
        yaw = math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
        ax.add_patch(FancyArrow(x, y, 0.04 * span * math.cos(yaw), 0.04 * span * math.sin(yaw),
                                width=0.006 * span, color="crimson", zorder=7))
        ax.text(x, y, f" Q{i}", color="crimson", fontsize=9, fontweight="bold", zorder=10, va="top")  # above labels
    return labels


@dataclass
class _Label:
    text: str
    xy: tuple[float, float]
    spots: list[tuple[float, float, str, str]]  # offsets (points) and alignments to try, in order
    style: dict


_OBJECT_SPOTS = [(5, 4, "left", "bottom"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
                 (-5, -4, "right", "top"), (0, 7, "center", "bottom"), (0, -7, "center", "top"),
                 (12, 0, "left", "center"), (-12, 0, "right", "center")]
_AREA_SPOTS = [(0, 2, "center", "bottom"), (0, -2, "center", "top"), (0, 14, "center", "bottom"),
               (0, -14, "center", "top")]


def _place_labels(fig, axes_labels: list[tuple]) -> None:
    """Put each label at the first of its spots that stays inside the panel and overlaps no text already there
    (room names, query goals, labels placed before it); where none is free, at the first spot inside the panel."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax, labels in axes_labels:
        placed = [t.get_window_extent(renderer) for t in ax.texts if t.get_visible()]
        frame = ax.get_window_extent(renderer)
        for lab in labels:
            t = ax.annotate(lab.text, lab.xy, xytext=lab.spots[0][:2], textcoords="offset points",
                            annotation_clip=True, **lab.style)
            boxes = []
            for dx, dy, ha, va in lab.spots:
                t.xyann = (dx, dy)
                t.set_ha(ha)
                t.set_va(va)
                bb = t.get_window_extent(renderer)
                inside = frame.x0 <= bb.x0 and bb.x1 <= frame.x1 and frame.y0 <= bb.y0 and bb.y1 <= frame.y1
                free = not any(bb.overlaps(p) for p in placed)
                if inside and free:
                    break
                boxes.append((not inside, bb, (dx, dy, ha, va)))
            else:  # no free spot: the first one inside the panel (overlapping), else the first one
                _, bb, (dx, dy, ha, va) = min(boxes, key=lambda b: b[0])
                t.xyann = (dx, dy)
                t.set_ha(ha)
                t.set_va(va)
            placed.append(bb)


def _legend(fig, any_outline: bool) -> None:
    handles = [Line2D([], [], ls="none", marker="o", ms=5, color="#4c72b0", label="keyframe (colour = area)"),
               Line2D([], [], ls="none", marker="D", ms=6, mfc="#d62728", mec=OBJECT_EDGE, label="object"),
               Patch(fc=FREE_RGBA, ec="#bbbbbb", label="free (depth)"), Patch(fc=OCCUPIED_RGBA, label="occupied")]
    if any_outline:
        handles.append(Patch(fill=False, ec=OUTLINE_COLOUR, label="building outline"))
    handles.append(Line2D([], [], color="crimson", lw=2, label="query goal"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)


def _figure(memory: Memory, queries: Sequence[AskedQuery], title: str, outline: Sequence[OutlineRoom] = (),
            only: int | None = None, floors: list[_Floor] | None = None):
    """The map: one panel per floor (``only``: that floor alone)."""
    kfs = memory.keyframes
    if not kfs:
        fig, ax = plt.subplots(figsize=(11, 8.5), dpi=110)
        ax.text(0.5, 0.5, "empty memory", ha="center", va="center", transform=ax.transAxes)
        return fig
    forest = memory.forest
    res = memory.free_space.res
    floors = floors if floors is not None else _floors(memory, queries, outline)
    x0, y0, x1, y1 = _bounds(floors, res)
    span = max(x1 - x0, y1 - y0, 1.0)
    shown = [fl for fl in floors if only is None or fl.index == only]
    n = len(shown)
    ncols = 1 if n == 1 else 2 if n <= 4 else 3
    nrows = math.ceil(n / ncols)
    panel_w = 11.0 if ncols == 1 else 16.0 / ncols
    panel_h = min(max(panel_w * (y1 - y0) / max(x1 - x0, 1e-6), 3.0), 10.0)
    fig, axs = plt.subplots(nrows, ncols, figsize=(panel_w * ncols, panel_h * nrows + 1.1), dpi=110, squeeze=False)
    areas = sorted(forest.level_nodes(1), key=lambda a: a.id)
    cmap = plt.get_cmap("tab20")
    colour_of = {a.id: cmap(i % 20) for i, a in enumerate(areas)}
    # Name the level-1 areas when they are few; otherwise the larger areas above them, so labels stay legible.
    named = areas if len(areas) <= 40 * len(floors) or forest.depth < 2 else forest.level_nodes(2)
    named = sorted(named, key=lambda a: -a.n)
    pairs = []
    for ax, fl in zip(axs.flat, shown):
        pairs.append((ax, _draw_floor(ax, memory, fl, colour_of, named, span, res, len(floors))))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"x [m] ({memory.config.frame_id})")
        ax.set_ylabel("y [m]")
        ax.grid(True, lw=0.3, alpha=0.5)
        head = f"floor {fl.index} (camera at z ≈ {fl.camera_z:.1f} m): " if len(floors) > 1 else ""
        ax.set_title(f"{head}{len(fl.keyframes)} keyframes, {len(fl.objects)} objects", fontsize=10)
    for ax in list(axs.flat)[n:]:
        ax.set_visible(False)
    n_obj = sum(len(fl.objects) for fl in floors)
    where = f", floor {only}" if only is not None and len(floors) > 1 else ""
    fig.suptitle(f"{title}{where}: {len(kfs)} keyframes, {len(areas)} areas, {n_obj} objects, "
                 f"{len(floors)} floor{'s' if len(floors) > 1 else ''}, forest of {forest.depth} levels", fontsize=11)
    _legend(fig, any(fl.rooms for fl in shown))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _place_labels(fig, pairs)
    return fig


def write_png(memory: Memory, out: Path, queries: list[AskedQuery] | None = None, title: str = "memory",
              outline: Sequence[OutlineRoom] = ()) -> Path:
    fig = _figure(memory, queries or [], title, outline)
    fig.savefig(out)
    plt.close(fig)
    return out


def _svg(fig) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):  # text stays text: searchable, and smaller
        fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def write_html(memory: Memory, out: Path, queries: list[AskedQuery] | None = None, title: str = "memory",
               outline: Sequence[OutlineRoom] = ()) -> Path:
    queries = queries or []
    floors = _floors(memory, queries, outline) if memory.keyframes else []
    sections = []
    if not floors:
        sections.append(_svg(_figure(memory, queries, title, outline)))
    for fl in floors:
        svg = _svg(_figure(memory, queries, title, outline, only=fl.index, floors=floors))
        orows = [f"<tr><td>{o.id}</td><td>{html.escape(o.name)}</td><td>{o.position[0]:.2f}, {o.position[1]:.2f}, "
                 f"{o.position[2]:.2f}</td><td>{o.n}</td><td>{html.escape(o.source)}</td></tr>"
                 for o in sorted(fl.objects, key=lambda o: (o.label, o.colour, o.id))]
        head = (f"<h2>Floor {fl.index}</h2><p>Camera at z ≈ {fl.camera_z:.1f} m, robot base at z ≈ {fl.base_z:.1f} m: "
                f"{len(fl.keyframes)} keyframes, {len(fl.objects)} objects.</p>" if len(floors) > 1 else "")
        otable = (f"<table><tr><th>id</th><th>name</th><th>position (x, y, z) [m]</th><th>seen in keyframes</th>"
                  f"<th>placed from</th></tr>{''.join(orows)}</table>" if orows else "<p>No confirmed objects.</p>")
        sections.append(f'<section class="floor" id="floor-{fl.index}">{head}{svg}'
                        f"<h3>Objects{f' on floor {fl.index}' if len(floors) > 1 else ''}</h3>{otable}</section>")
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
    outline_note = (" Blue rectangles are the building's rooms as the simulator knows them (ground truth, not the "
                    "memory)." if outline else "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top;text-align:left}}
th{{background:#f0f0f0}} svg{{max-width:100%;height:auto}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Top-down map of the memory in the <code>{html.escape(memory.config.frame_id)}</code> frame, one section per floor:
light cells are floor that depth showed free, dark cells what it showed occupied (blank: never seen); dots are
keyframes coloured by their area, grey lines the robot's travel, labels the areas' names, dashed boxes the larger
areas above them, diamonds the objects the robot is sure of (filled with their colour), red arrows the goal poses of
the answered queries (Q1, Q2, ...).{outline_note}</p>
{''.join(sections)}
<h2>Queries</h2>
<table><tr><th></th><th>question</th><th>answer</th><th>goal</th><th>evidence</th></tr>{''.join(qrows)}</table>
<h2>Areas of the semantic forest</h2>
<table><tr><th>level</th><th>id</th><th>name</th><th>keyframes</th><th>summary</th></tr>{''.join(rows)}</table>
</body></html>
"""
    out.write_text(page, encoding="utf-8")
    return out
