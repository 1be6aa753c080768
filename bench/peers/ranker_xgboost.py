"""The xgboost Python package (pip) on the very rows train-ranker learnt from: the features tables of
the labelled weeks (exported as CSV by hmpipe), the customers with both a bought and a not-bought
candidate, one group per customer and week, the same params and threads. Prints JSON: rows, groups,
load seconds and training seconds of each repetition.
Usage: python3 bench/peers/ranker_xgboost.py ROUNDS THREADS REPS FEATURES.csv [FEATURES_2.csv ...]"""
import json
import sys
import time

import numpy as np
import polars as pl
import xgboost as xgb

rounds, threads, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
blocks, labels, groups = [], [], []
for path in sys.argv[4:]:
    table = pl.read_csv(path, infer_schema_length=10000)
    names = [c for c in table.columns if c not in ("customer", "article", "label")]
    sizes = table.group_by("customer", maintain_order=True).agg(
        pl.len().alias("n"), (pl.col("label") > 0).sum().alias("pos"))
    table = table.with_columns(pl.col("customer").rle_id().alias("run"))
    keep = sizes.filter((pl.col("pos") > 0) & (pl.col("pos") < pl.col("n")))
    kept = table.join(keep.select("customer"), on="customer", how="semi")
    blocks.append(kept.select(names).to_numpy().astype(np.float32))
    labels.append(kept["label"].to_numpy().astype(np.float32))
    groups.append(kept.group_by("run", maintain_order=True).len()["len"].to_numpy())
features, label, group = np.vstack(blocks), np.concatenate(labels), np.concatenate(groups)
load = time.perf_counter() - start
params = {"objective": "rank:pairwise", "eta": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
          "colsample_bytree": 1.0, "seed": 0, "nthread": threads, "tree_method": "hist", "eval_metric": "ndcg@12"}
seconds = []
for _ in range(reps):
    start = time.perf_counter()
    matrix = xgb.DMatrix(features, label=label, missing=np.nan, nthread=threads)
    matrix.set_group(group)
    xgb.train(params, matrix, num_boost_round=rounds)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"rows": int(features.shape[0]), "columns": int(features.shape[1]), "groups": int(group.size),
                  "load_seconds": load, "train_seconds": seconds, "version": xgb.__version__}))
