"""Finding artifacts in an hmpipe store: by path, by id (or a prefix of 4+ hex digits), or as a
pipeline's stage output (the output of the stage's last run, as `hmpipe inspect` shows it)."""
import glob
import hashlib
import json
import os

from .format import ArtifactError


def _pipeline_store(pipeline):
    """The store folder a pipeline file names (following `extends`), or its default."""
    path, seen = os.path.abspath(pipeline), set()
    while path not in seen:
        seen.add(path)
        with open(path) as f:
            document = json.load(f)
        if "store" in document:
            store = document["store"]
            if "${" in store:
                raise ArtifactError(f"{pipeline}: its store path uses variables; pass store= explicitly")
            return os.path.normpath(os.path.join(os.path.dirname(path), store))
        if "extends" not in document:
            break
        path = os.path.normpath(os.path.join(os.path.dirname(path), document["extends"]))
    directory = os.path.dirname(os.path.abspath(pipeline))
    default = "../artifacts" if os.path.basename(directory) == "pipelines" else "artifacts"
    return os.path.normpath(os.path.join(directory, default))


def object_path(store, artifact_id):
    return os.path.join(store, "objects", artifact_id[:2], artifact_id)


def locate(target, output=None, store=None):
    """The file of an artifact: `locate(PATH)`, `locate(ID_OR_PREFIX, store=DIR)`, or
    `locate(PIPELINE_JSON, "stage.output")` (also "stage" when it has one output)."""
    if output is not None:
        pipeline = os.path.abspath(target)
        store = store or _pipeline_store(target)
        stage, _, name = output.partition(".")
        head = os.path.join(store, "heads", hashlib.sha256(pipeline.encode()).hexdigest(), stage + ".json")
        if not os.path.exists(head):
            raise ArtifactError(f"{target}: stage '{stage}' has not run in the store {store} (hmpipe run {target} --until {stage})")
        with open(head) as f:
            outputs = json.load(f)["outputs"]
        if not name:
            if len(outputs) != 1:
                raise ArtifactError(f"stage '{stage}' has outputs {', '.join(sorted(outputs))}: name one as {stage}.OUTPUT")
            name = next(iter(outputs))
        if name not in outputs:
            raise ArtifactError(f"stage '{stage}' has no output '{name}'; it has {', '.join(sorted(outputs))}")
        return object_path(store, outputs[name]["id"])
    if os.path.exists(target):
        return target
    if store is not None and len(target) >= 4 and all(c in "0123456789abcdef" for c in target):
        matches = glob.glob(os.path.join(store, "objects", target[:2], target + "*"))
        if len(matches) == 1:
            return matches[0]
        raise ArtifactError(f"{len(matches)} artifacts in {store} have an id starting with {target}")
    raise ArtifactError(f"{target}: no such file (give a path, an id with store=, or a pipeline file and a stage output)")


def store_of(path):
    """The store an object file lies in (…/STORE/objects/ab/ID), or None."""
    parts = os.path.abspath(path).split(os.sep)
    if len(parts) >= 4 and parts[-3] == "objects":
        return os.sep.join(parts[:-3])
    return None
