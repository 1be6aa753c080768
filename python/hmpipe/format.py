"""The hmpipe artifact format, version 1 (docs/artifact-format.md): reading, writing, content ids."""
import hashlib
import json
import os
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import zstandard

MAGIC = b"HMPIPEA1"
CHUNK_BYTES = 4 * 1024 * 1024
DTYPES = {"u8": "<u1", "u16": "<u2", "u32": "<u4", "u64": "<u8", "i8": "<i1", "i16": "<i2",
          "i32": "<i4", "i64": "<i8", "f32": "<f4", "f64": "<f8"}
ELEMENTS = {np.dtype(v): k for k, v in DTYPES.items()}


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    return _POOL


def _decompress_into(frame, target, path):
    """Decompresses one zstd frame into `target`, which it must fill exactly; reading to the frame's
    end has zstd check its checksum."""
    reader, filled = zstandard.ZstdDecompressor().stream_reader(frame), 0
    try:
        while filled < len(target):
            n = reader.readinto(target[filled:])
            if n == 0:
                break
            filled += n
        if filled != len(target) or reader.read(1):
            raise ArtifactError(f"{path}: a chunk does not decompress to the size its manifest says")
    except zstandard.ZstdError as error:
        raise ArtifactError(f"{path}: a damaged chunk: {error}") from None


class ArtifactError(Exception):
    """An artifact that cannot be read or written as asked: the message names the file and the fault."""


def content_id(manifest):
    """The content id of a manifest: SHA-256 over its content-describing text (never over placement)."""
    meta = json.dumps(manifest["metadata"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = (f"hmpipe-artifact-v1\nkind {manifest['kind']}\nrows {manifest['rows']}\n"
            f"chunk {manifest['chunkBytes']}\nmetadata {meta}\n")
    for c in manifest["columns"]:
        null = "-" if c.get("nullSentinel") is None else c["nullSentinel"]
        text += f"column {len(c['name'].encode())}:{c['name']} {c['type']} null {null}\n"
        for b in c["buffers"]:
            text += f"buffer {b['role']} {b['element']} {b['count']}\n" + "".join(k["sha256"] + "\n" for k in b["chunks"])
    return hashlib.sha256(text.encode()).hexdigest()


class Artifact:
    """One artifact file, opened: its manifest, and its columns read on demand as numpy arrays."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            if size < 64:
                raise ArtifactError(f"{path}: not an hmpipe artifact (too short, or truncated)")
            f.seek(-56, 2)
            tail = f.read(56)
            f.seek(0)
            if f.read(8) != MAGIC or tail[48:] != MAGIC:
                raise ArtifactError(f"{path}: not an hmpipe artifact (no HMPIPEA1 magic; truncated?)")
            offset, length = struct.unpack("<QQ", tail[:16])
            if offset + length > size - 56:
                raise ArtifactError(f"{path}: its footer points outside the file")
            f.seek(offset)
            raw = f.read(length)
        if hashlib.sha256(raw).digest() != tail[16:48]:
            raise ArtifactError(f"{path}: manifest checksum mismatch (the file is damaged)")
        self.manifest = json.loads(raw)
        self.columns = {c["name"]: c for c in self.manifest["columns"]}

    @property
    def id(self):
        return self.manifest["id"]

    @property
    def rows(self):
        return self.manifest["rows"]

    @property
    def metadata(self):
        return self.manifest["metadata"]

    def _buffer(self, f, buf):
        """One buffer's values: its chunks read in one go, each decompressed straight into its place
        in the result, on all cores (zstd releases the GIL)."""
        dtype, chunks = np.dtype(DTYPES[buf["element"]]), buf["chunks"]
        ends = np.cumsum([0] + [c["rawSize"] for c in chunks])
        out = np.empty(int(ends[-1]), np.uint8)
        if not chunks:
            return out.view(dtype)
        start = chunks[0]["offset"]
        f.seek(start)
        region = memoryview(f.read(chunks[-1]["offset"] + chunks[-1]["size"] - start))
        shuffled = buf["filter"] == "shuffle" and dtype.itemsize > 1

        def decompress(i):
            chunk, target = chunks[i], out[ends[i]:ends[i + 1]]
            scratch = np.empty(chunk["rawSize"], np.uint8) if shuffled else target
            frame = region[chunk["offset"] - start:chunk["offset"] - start + chunk["size"]]
            _decompress_into(frame, memoryview(scratch), self.path)
            if shuffled:
                target.reshape(-1, dtype.itemsize)[...] = scratch.reshape(dtype.itemsize, -1).T

        list(_pool().map(decompress, range(len(chunks))))
        return out.view(dtype)

    def raw_column(self, name):
        """A column as stored: {"values": array} or {"values": array, "offsets": array} (strings, lists)."""
        if name not in self.columns:
            raise ArtifactError(f"{self.path}: no column '{name}'; it has {', '.join(self.columns)}")
        with open(self.path, "rb") as f:
            return {b["role"]: self._buffer(f, b) for b in self.columns[name]["buffers"]}

    def column(self, name):
        """A column for people: numbers as an array (a masked array where the column has a null
        sentinel, NaN for floats), strings as a list of str, lists as a list of arrays."""
        c, b = self.columns.get(name), self.raw_column(name)
        if "offsets" not in b:
            values, sentinel = b["values"], c.get("nullSentinel")
            return np.ma.masked_equal(values, sentinel) if sentinel is not None else values
        o, v = b["offsets"], b["values"]
        if c["type"] == "string":
            data = v.tobytes()
            return [data[o[r]:o[r + 1]].decode() for r in range(len(o) - 1)]
        return [v[o[r]:o[r + 1]] for r in range(len(o) - 1)]

    def bytes(self):
        """A file artifact's bytes."""
        return self.raw_column("bytes")["values"].tobytes()


def open_artifact(path):
    return Artifact(path)


def verify(path):
    """Recomputes every chunk's SHA-256 and the content id; returns the id, raises ArtifactError."""
    a = Artifact(path)
    with open(path, "rb") as f:
        for c in a.manifest["columns"]:
            for buf in c["buffers"]:
                for chunk in buf["chunks"]:
                    f.seek(chunk["offset"])
                    data = zstandard.ZstdDecompressor().decompress(f.read(chunk["size"]), max_output_size=chunk["rawSize"])
                    if buf["filter"] == "shuffle":
                        width = np.dtype(DTYPES[buf["element"]]).itemsize
                        data = np.frombuffer(data, np.uint8).reshape(width, -1).T.tobytes()
                    if hashlib.sha256(data).hexdigest() != chunk["sha256"]:
                        raise ArtifactError(f"{path}: column {c['name']}: a chunk's SHA-256 does not match its manifest")
    if content_id(a.manifest) != a.id:
        raise ArtifactError(f"{path}: the content id does not match the manifest")
    return a.id


# Writing


def _as_array(values, name):
    array = np.ascontiguousarray(values)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    if array.dtype not in ELEMENTS:
        raise ArtifactError(f"column '{name}': dtype {array.dtype} has no hmpipe type (use u8…u64, i8…i64, f32, f64)")
    return array


def _plain(values):
    """A pandas or polars series as numpy (numbers) or a Python list (strings, lists)."""
    module = type(values).__module__
    if module.startswith("pandas"):
        return values.to_list() if values.dtype == object or str(values.dtype) in ("string", "str") else values.to_numpy()
    if module.startswith("polars"):
        import polars as pl
        textual = values.dtype == pl.Utf8 or isinstance(values.dtype, pl.List) or values.dtype == pl.List
        return values.to_list() if textual else values.to_numpy()
    return values


def _offsets(lengths):
    offsets = np.zeros(len(lengths) + 1, "<u8")
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _column(name, values):
    """(type, [(role, element, array)]) for one column given as an array, a list of str, a list of
    arrays (a list column), or a pandas / polars series."""
    values = _plain(values)
    if isinstance(values, tuple) and len(values) == 2:
        offsets, elements = np.asarray(values[0], "<u8"), _as_array(values[1], name)
        if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(elements) or np.any(np.diff(offsets.astype(np.int64)) < 0):
            raise ArtifactError(f"column '{name}': offsets must rise from 0 to the number of values ({len(elements)})")
        kind = ELEMENTS[elements.dtype]
        return f"list<{kind}>", [("values", kind, elements), ("offsets", "u64", offsets)]
    if isinstance(values, np.ndarray) and values.dtype != object:
        array = _as_array(values, name)
        return ELEMENTS[array.dtype], [("values", ELEMENTS[array.dtype], array)]
    values = list(values)
    if values and all(isinstance(v, str) for v in values):
        encoded = [v.encode() for v in values]
        return "string", [("values", "u8", np.frombuffer(b"".join(encoded), np.uint8)), ("offsets", "u64", _offsets([len(e) for e in encoded]))]
    arrays = [np.asarray(v) for v in values]
    typed = [a for a in arrays if a.dtype != object and len(a)]
    if not typed:
        raise ArtifactError(f"column '{name}': cannot tell the element type of an empty or untyped list column: pass numpy arrays")
    element = _as_array(np.concatenate([a.astype(typed[0].dtype) for a in arrays]), name)
    kind = ELEMENTS[element.dtype]
    return f"list<{kind}>", [("values", kind, element), ("offsets", "u64", _offsets([len(a) for a in arrays]))]


def _encode(piece, level):
    """One chunk as a zstd frame (content size and checksum on) and the SHA-256 of its raw bytes."""
    frame = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True).compress(piece)
    return frame, hashlib.sha256(piece).hexdigest()


def write_table(path, columns, metadata=None, null_sentinels=None, level=3):
    """Writes a table artifact to `path`: `columns` is a dict of name → values (a numpy array; a list
    of str; a list column as a list of arrays, or as a tuple (offsets, values) of numpy arrays in CSR
    form: row r is values[offsets[r]:offsets[r + 1]]) or a pandas / polars DataFrame.
    `null_sentinels` names, per integer column, the value that means null (masked entries of a
    numpy masked array are written as it). Returns the content id.
    The file is written beside `path` and renamed into place, so a crash never leaves half a table."""
    if hasattr(columns, "columns") and not isinstance(columns, dict):
        frame = columns
        columns = {str(name): frame[name] for name in frame.columns}
    manifest = {"format": 1, "id": "", "kind": "table", "rows": 0, "chunkBytes": CHUNK_BYTES,
                "metadata": dict(metadata or {}), "columns": []}
    rows = None
    temporary = f"{path}.partial-{os.getpid()}"
    with open(temporary, "wb") as f:
        f.write(MAGIC)
        for name, values in columns.items():
            sentinel = (null_sentinels or {}).get(name)
            if isinstance(values, np.ma.MaskedArray):
                if sentinel is None and np.ma.is_masked(values):
                    raise ArtifactError(f"column '{name}' has nulls: name the value that stands for them in null_sentinels")
                values = values.filled(sentinel) if sentinel is not None else np.ma.getdata(values)
            kind, buffers = _column(name, values)
            count = len(buffers[-1][2]) - 1 if len(buffers) == 2 else len(buffers[0][2])
            if rows is not None and count != rows:
                raise ArtifactError(f"column '{name}' has {count} rows, the columns before it {rows}")
            rows = count
            entry = {"name": name, "type": kind, "nullSentinel": None if sentinel is None else int(sentinel), "buffers": []}
            for role, element, array in buffers:
                data, chunks = memoryview(np.ascontiguousarray(array)).cast("B"), []
                pieces = [data[start:start + CHUNK_BYTES] for start in range(0, len(data), CHUNK_BYTES)]
                # Chunks compress and hash on all cores (zstd and hashlib release the GIL).
                for piece, (frame, digest) in zip(pieces, _pool().map(lambda p: _encode(p, level), pieces)):
                    chunks.append({"offset": f.tell(), "size": len(frame), "rawSize": len(piece), "sha256": digest})
                    f.write(frame)
                entry["buffers"].append({"role": role, "element": element, "count": len(array), "filter": "none", "chunks": chunks})
            manifest["columns"].append(entry)
        manifest["rows"] = rows or 0
        manifest["id"] = content_id(manifest)
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        offset = f.tell()
        f.write(raw)
        f.write(struct.pack("<QQ", offset, len(raw)) + hashlib.sha256(raw).digest() + MAGIC)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    return manifest["id"]
