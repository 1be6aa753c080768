"""hmpipe artifacts in Python: read any artifact into numpy arrays, a pandas or a polars DataFrame
(nulls applied, H&M ids, names and dates decoded), write a table for a command stage, verify an
artifact's content id. Needs numpy and zstandard; pandas and polars only for their functions.

    import hmpipe
    df = hmpipe.read_pandas("pipelines/demo.json", "fallback.predictions")   # a stage's output
    df = hmpipe.read_polars("artifacts/objects/3f/3f2a…")                      # an object file
    cols = hmpipe.read("3f2a", store="artifacts")                               # by id prefix
    hmpipe.write_table(sys.argv[2], {"articles": lists, "scores": scores})     # in a command stage
"""
from .format import Artifact, ArtifactError, content_id, open_artifact, verify, write_table
from .frames import read, read_pandas, read_polars
from .store import locate

__all__ = ["Artifact", "ArtifactError", "content_id", "open_artifact", "verify", "write_table",
           "read", "read_pandas", "read_polars", "locate"]
