"""``embodied-rag migrate DIR URL``: copy a SQLite memory directory (every table, and the JPEG images) into an empty
PostgreSQL memory, in one transaction (all of it or nothing)."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from embodied_rag.errors import UserError
from embodied_rag.memory.backend import is_url, redact
from embodied_rag.memory.store import DB_NAME, SCHEMA_VERSION, MemoryStore

_BATCH = 500


def migrate(directory: str | Path, url: str, progress: bool = True) -> dict[str, Any]:
    """Copy the memory in ``directory`` into the PostgreSQL memory at ``url`` (which must hold none yet); returns
    counts per table."""
    from tqdm import tqdm

    from embodied_rag.memory.postgres_store import TABLES, PostgresStore

    directory = Path(directory)
    if not is_url(url):
        raise UserError(f"The target must be a postgresql:// URL, got '{url}'.")
    if not (directory / DB_NAME).is_file():
        raise UserError(f"{directory} is not a memory directory (no {DB_NAME}).")
    MemoryStore(directory, writable=False).close()  # refuses what this version cannot read, in its own words
    src = sqlite3.connect(f"file:{directory / DB_NAME}?mode=ro", uri=True)
    t0 = time.perf_counter()
    try:
        dst = PostgresStore(url, writable=True, create=True)
        try:
            if not dst.is_empty():
                raise UserError(f"{dst.name} already holds a memory; migrate only into an empty database.")
            tables = [t for t in TABLES if src.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (t,)).fetchone()]
            counts = {t: int(src.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}
            images = [r[0] for r in src.execute("SELECT image FROM keyframes WHERE image IS NOT NULL ORDER BY id")]
            bar = tqdm(total=sum(counts.values()) + len(images), desc="migrate", unit="row", file=sys.stderr,
                       disable=None if progress else True, dynamic_ncols=True)
            missing = 0
            with dst.transaction():
                for table in tables:
                    _copy_table(src, dst, table, bar)
                for key in images:
                    path = directory / key
                    if path.is_file():
                        dst.write_image_bytes(key, path.read_bytes())
                    else:
                        missing += 1
                    bar.update(1)
                for table, column in (("sessions", "id"), ("place_vocabulary", "id"), ("keyframe_updates", "seq")):
                    dst.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                     f"GREATEST((SELECT MAX({column}) FROM {table}), 1))")
                dst.conn.execute("UPDATE meta SET value=%s WHERE key='schema_version'", (str(SCHEMA_VERSION),))
            bar.close()
        finally:
            dst.close()
    finally:
        src.close()
    return {"memory": redact(url), "from": str(directory), "rows": counts, "images": len(images) - missing,
            "images_missing": missing, "seconds": round(time.perf_counter() - t0, 2)}


def _copy_table(src: sqlite3.Connection, dst: Any, table: str, bar: Any) -> None:
    src_cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
    dst_cols = {r[0] for r in dst.conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name=%s AND table_schema=current_schema()",
        (table,))}
    cols = [c for c in src_cols if c in dst_cols]
    extra = ["text_vec"] if table == "keyframes" else []
    names = ", ".join(cols + extra)
    marks = ", ".join(["%s"] * (len(cols) + len(extra)))
    if table == "meta":
        sql = f"INSERT INTO meta ({names}) VALUES ({marks}) ON CONFLICT (key) DO UPDATE SET value=excluded.value"
    else:
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
    emb = cols.index("text_emb") if "text_emb" in cols else -1
    cur = src.execute(f"SELECT {', '.join(cols)} FROM {table}")
    while rows := cur.fetchmany(_BATCH):
        if table == "meta":
            rows = [r for r in rows if r[0] not in ("commits", "schema_version")]
        if extra:
            rows = [(*r, None if r[emb] is None else np.frombuffer(r[emb], dtype="<f4").astype(np.float32))
                    for r in rows]
        with dst.conn.cursor() as c:
            c.executemany(sql, rows)
        bar.update(len(rows))
