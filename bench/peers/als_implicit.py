"""implicit 0.7.3 side by side with hmpipe's als-train on the same confidence matrix.

Builds the matrix from hmpipe's split.train artifact exactly as als-train does (iterative row
thresholds, the seed's step weights), fits implicit with the same hyperparameters and threads,
then scores both models on the held-out week (precision@12, MAP@12 over test customers in the
model, top 12 of all model articles) and computes both final losses with implicit's own loss.

  python3 bench/peers/als_implicit.py STORE TRAIN_ID TEST_ID USERS_ID ITEMS_ID FACTORS ITERATIONS THREADS
Prints one JSON line."""
import datetime, json, resource, sys, time
import numpy as np, scipy.sparse as sp
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import hmpipe_artifacts as art

store, train_id, test_id, users_id, items_id = sys.argv[1:6]
factors, iterations, threads = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
MIN_ROWS, REG, CUTOFF = 5, 0.01, (datetime.date(2020, 3, 20) - datetime.date(2018, 9, 20)).days

t = art.columns(store, train_id, {"day", "customer", "article"})
c, a, d = t["customer"].astype(np.int64), t["article"].astype(np.int64), t["day"]
keep_c, keep_a = np.ones(c.max() + 1, bool), np.ones(a.max() + 1, bool)
while True:
    live = keep_c[c] & keep_a[a]
    rows_c = np.bincount(c[live], minlength=keep_c.size)
    new_c = keep_c & (rows_c >= MIN_ROWS)
    live = new_c[c] & keep_a[a]
    new_a = keep_a & (np.bincount(a[live], minlength=keep_a.size) >= MIN_ROWS)
    if (new_c == keep_c).all() and (new_a == keep_a).all():
        break
    keep_c, keep_a = new_c, new_a
live = keep_c[c] & keep_a[a]
user_of = np.cumsum(keep_c) - 1
item_of = np.cumsum(keep_a) - 1
weight = np.where(d[live] >= CUTOFF, 5.0, 1.0).astype(np.float32)
cui = sp.csr_matrix((weight, (user_of[c[live]], item_of[a[live]])), shape=(keep_c.sum(), keep_a.sum()), dtype=np.float32)
cui.sum_duplicates()

from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu import _als
seconds = []
model = AlternatingLeastSquares(factors=factors, regularization=REG, alpha=1.0, iterations=iterations,
                                num_threads=threads, random_state=0)
start = time.time()
model.fit(cui, show_progress=False, callback=lambda it, elapsed, loss: seconds.append(elapsed))
fit = time.time() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # before the evaluation's memory

# hmpipe's model, from its artifacts.
u = art.columns(store, users_id, {"customer", "factors"})
i = art.columns(store, items_id, {"article", "factors"})
assert (u["customer"] == np.flatnonzero(keep_c)).all() and (i["article"] == np.flatnonzero(keep_a)).all(), "same rows"
hx, hy = u["factors"].reshape(-1, factors).copy(), i["factors"].reshape(-1, factors).copy()

test = art.columns(store, test_id, {"customer", "article"})
in_model = keep_c[test["customer"]] & keep_a[test["article"]] if test["customer"].size else np.zeros(0, bool)
truth = {}
for cu, ar in zip(user_of[test["customer"][in_model]], item_of[test["article"][in_model]]):
    truth.setdefault(int(cu), set()).add(int(ar))
evaluated = sorted(truth)


def quality(x, y):
    precision, ap = 0.0, 0.0
    for start in range(0, len(evaluated), 1024):
        block = evaluated[start:start + 1024]
        scores = x[block] @ y.T
        top = np.argpartition(-scores, 12, axis=1)[:, :12]
        order = np.take_along_axis(scores, top, 1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, 1)
        for row, user in enumerate(block):
            bought, hits, score = truth[user], 0, 0.0
            for k, item in enumerate(top[row]):
                if item in bought:
                    hits += 1
                    score += hits / (k + 1)
            precision += hits / 12
            ap += score / min(len(bought), 12)
    n = max(len(evaluated), 1)
    return precision / n, ap / n


ix, iy = np.ascontiguousarray(model.user_factors), np.ascontiguousarray(model.item_factors)
p_imp, map_imp = quality(ix, iy)
p_hm, map_hm = quality(hx, hy)
loss_imp = _als.calculate_loss(cui, ix, iy, REG, num_threads=threads)
loss_hm = _als.calculate_loss(cui, np.ascontiguousarray(hx), np.ascontiguousarray(hy), REG, num_threads=threads)
print(json.dumps({"users": int(cui.shape[0]), "items": int(cui.shape[1]), "cells": int(cui.nnz),
                  "implicit_seconds_per_iteration": sorted(seconds)[len(seconds) // 2], "implicit_fit_seconds": fit, "implicit_peak_mb": peak_mb,
                  "evaluated_customers": len(evaluated),
                  "precision12": {"implicit": p_imp, "hmpipe": p_hm}, "map12": {"implicit": map_imp, "hmpipe": map_hm},
                  "loss": {"implicit": loss_imp, "hmpipe": loss_hm}}))
