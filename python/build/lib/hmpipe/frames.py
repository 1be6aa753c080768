"""Artifacts as columns, pandas or polars DataFrames, with H&M ids, names and dates decoded the way
`hmpipe inspect` and `hmpipe export` show them."""
import datetime
import glob
import json
import os

import numpy as np

from .format import Artifact
from .store import locate, object_path, store_of

DAY0 = datetime.date(2018, 9, 20)


def _hex_ids(words):
    """64-hex customer ids from their four big-endian 64-bit words."""
    data = np.stack([np.asarray(w, dtype=np.uint64) for w in words], axis=1).astype(">u8").tobytes()
    return [data[i * 32:(i + 1) * 32].hex() for i in range(len(words[0]))]


class _Decoder:
    """The ids, dictionaries and dates of the ingest run an artifact descends from (found through
    its provenance and the store's cache entries). What it cannot find stays undecoded."""

    def __init__(self, artifact):
        self.articles = self.customers = None
        self.dictionaries = {}
        store = store_of(artifact.path)
        if store is None:
            return
        ancestors = self._ingest_ancestors(artifact, store)
        outputs = self._ingest_outputs(ancestors, store)
        for path in outputs:
            a = Artifact(path)
            if "article_id" in a.columns:
                self.articles = a.column("article_id")
            elif "id_word0" in a.columns:
                self.customers = _hex_ids([a.column(f"id_word{w}") for w in range(4)])
            elif set(a.columns) == {"column", "code", "value"}:
                for column, code, value in zip(a.column("column"), a.column("code"), a.column("value")):
                    self.dictionaries.setdefault(column, {})[int(code)] = value

    @staticmethod
    def _ingest_ancestors(artifact, store):
        queue, seen, found = [artifact], {artifact.id}, []
        while queue:
            a = queue.pop()
            provenance = a.manifest.get("provenance") or {}
            if provenance.get("kind") == "ingest":
                found.append(a.id)
                continue
            for parent in sorted(provenance.get("inputs", {}).values()):
                path = object_path(store, parent)
                if parent.startswith("file:") or parent in seen or not os.path.exists(path):
                    continue
                seen.add(parent)
                queue.append(Artifact(path))
        return found

    @staticmethod
    def _ingest_outputs(ancestors, store):
        wanted = set(ancestors)
        if not wanted:
            return []
        for entry_path in sorted(glob.glob(os.path.join(store, "cache", "*.json"))):
            with open(entry_path) as f:
                entry = json.load(f)
            ids = {o["id"] for o in entry.get("outputs", {}).values()}
            if entry.get("kind") == "ingest" and ids & wanted:
                return [object_path(store, entry["outputs"][n]["id"]) for n in ("articles", "customers", "dictionaries")
                        if n in entry["outputs"]]
        return [object_path(store, i) for i in ancestors]

    def article(self, index):
        return f"{int(self.articles[index]):010d}"

    def decode(self, artifact, columns):
        out = {}
        per_customer = (self.customers is not None and artifact.rows == len(self.customers) and "customer" not in columns
                        and ("articles" in columns or "candidates" in columns))
        if per_customer:
            out["customer_id"] = list(self.customers)
        sources = dict(pair.split("=", 1) for pair in artifact.metadata.get("sources", "").split(",") if "=" in pair)
        for name, values in columns.items():
            kind = artifact.columns[name]["type"]
            if name == "customer" and kind == "u32" and self.customers is not None:
                out["customer_id"] = [self.customers[i] for i in values]
            elif name == "article" and kind == "u32" and self.articles is not None:
                out["article_id"] = [self.article(i) for i in values]
            elif name in ("articles", "candidates") and kind == "list<u32>" and self.articles is not None:
                out[name] = [[self.article(i) for i in row] for row in values]
            elif name == "id_word0" and all(f"id_word{w}" in columns for w in range(4)):
                out["customer_id"] = _hex_ids([columns[f"id_word{w}"] for w in range(4)])
            elif name in ("id_word1", "id_word2", "id_word3") and "id_word0" in columns:
                continue
            elif name == "day" and kind == "i32" and artifact.metadata.get("day0") == DAY0.isoformat():
                out["date"] = np.datetime64(DAY0.isoformat(), "D") + np.asarray(values, dtype="timedelta64[D]")
            elif name == "sources" and kind == "list<u8>" and sources:
                out[name] = [[sources.get(str(int(c)), str(int(c))) for c in row] for row in values]
            elif name in self.dictionaries and kind in ("u8", "u16"):
                words, mask = self.dictionaries[name], np.ma.getmaskarray(values)
                out[name] = [None if m else words.get(int(v), str(int(v))) for v, m in zip(np.ma.getdata(values), mask)]
            else:
                out[name] = values
        return out


def read(target, output=None, store=None, decode=True, columns=None):
    """{column: values}: numbers as numpy arrays (masked where null), strings as lists of str, list
    columns as lists of arrays; with `decode`, H&M ids, names and dates as `hmpipe inspect` shows
    them. `target`: a path, an id (prefix) with `store=`, or a pipeline file with `output`."""
    artifact = Artifact(locate(target, output, store))
    names = columns or list(artifact.columns)
    values = {name: artifact.column(name) for name in names}
    return _Decoder(artifact).decode(artifact, values) if decode and artifact.manifest["kind"] == "table" else values


def read_pandas(target, output=None, store=None, decode=True, columns=None):
    """The artifact as a pandas DataFrame (nullable integer dtypes where the column has nulls)."""
    import pandas as pd

    data = {}
    for name, values in read(target, output, store, decode, columns).items():
        if isinstance(values, np.ma.MaskedArray):
            column = pd.Series(np.ma.getdata(values)).astype(_nullable(values.dtype))
            column[np.ma.getmaskarray(values)] = pd.NA
            data[name] = column
        else:
            data[name] = values
    return pd.DataFrame(data)


def _nullable(dtype):
    return {"u": "UInt", "i": "Int"}.get(dtype.kind, "Float") + str(dtype.itemsize * 8)


def read_polars(target, output=None, store=None, decode=True, columns=None):
    """The artifact as a polars DataFrame (nulls where the column has them)."""
    import polars as pl

    series = []
    for name, values in read(target, output, store, decode, columns).items():
        if isinstance(values, np.ma.MaskedArray):
            column = pl.Series(name, np.ma.getdata(values))
            series.append(column.scatter(np.flatnonzero(np.ma.getmaskarray(values)), None))
        elif isinstance(values, list) and values and isinstance(values[0], np.ndarray):
            series.append(pl.Series(name, [v.tolist() for v in values]))
        else:
            series.append(pl.Series(name, values))
    return pl.DataFrame(series)
