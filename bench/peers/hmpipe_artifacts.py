"""Loads hmpipe artifacts from a store with the Python reader of docs/artifact-format.md (the very
code the test suite runs), so the benchmarks read exactly what hmpipe wrote."""
import os, re

_doc = open(os.path.join(os.path.dirname(__file__), "../../docs/artifact-format.md")).read()
exec(re.search(r"```python\n(.*?)```", _doc, re.S).group(1).split('if __name__ == "__main__":')[0])


def object_path(store, artifact_id):
    digest = artifact_id.split(":")[-1]
    return os.path.join(store, "objects", digest[:2], digest)


def columns(store, artifact_id, names):
    """{name: flat numpy values} for the named columns (list columns: values and offsets)."""
    out = {}
    with open(object_path(store, artifact_id), "rb") as f:
        manifest = read_manifest(f)
        for c in manifest["columns"]:
            if c["name"] in names:
                for buf in c["buffers"]:
                    key = c["name"] if buf["role"] == "values" else c["name"] + "." + buf["role"]
                    out[key] = read_buffer(f, buf)
    return out
