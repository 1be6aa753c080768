"""Loads hmpipe artifacts from a store with the repository's Python package (python/, the very code
the test suite checks against the Swift reader), so the benchmarks read exactly what hmpipe wrote."""
import os, sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../python"))
import hmpipe.format as _format
import hmpipe.store as _store


def columns(store, artifact_id, names):
    """{name: flat numpy values} for the named columns (list columns: values, and offsets under
    "NAME.offsets")."""
    artifact = _format.open_artifact(_store.object_path(store, artifact_id.split(":")[-1]))
    out = {}
    for name in names:
        for role, values in artifact.raw_column(name).items():
            out[name if role == "values" else f"{name}.{role}"] = values
    return out
