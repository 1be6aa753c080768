"""faiss-cpu IndexFlatIP side by side with hmpipe's embed-neighbours: the same .npy matrix, rows
L2-normalised (zero rows left out, as hmpipe does), exact top-k by inner product, same threads.
Also measures how often the two agree on each article's neighbours.

  python3 bench/peers/knn_faiss.py EMBEDDINGS.npy IDS.npy K THREADS STORE NEIGHBOURS_ID ARTICLES_ID
Prints one JSON line."""
import json, sys, time
import numpy as np, faiss
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import hmpipe_artifacts as art

path, ids_path, k, threads, store, neighbours_id, articles_id = sys.argv[1:8]
k, threads = int(k), int(threads)
faiss.omp_set_num_threads(threads)
start = time.time()
x = np.load(path).astype(np.float32)
ids = np.load(ids_path)
norms = np.linalg.norm(x, axis=1)
live = norms > 0
unit = np.ascontiguousarray(x[live] / norms[live, None])
index = faiss.IndexFlatIP(unit.shape[1])
index.add(unit)
search_start = time.time()
scores, found = index.search(unit, k + 1)
search = time.time() - search_start
total = time.time() - start

# Agreement with hmpipe: the share of faiss's k neighbours (self dropped) that hmpipe also lists.
rows_of_live = np.flatnonzero(live)
article_ids = art.columns(store, articles_id, {"article_id"})["article_id"]
index_of = {int(a): i for i, a in enumerate(article_ids)}
hm = art.columns(store, neighbours_id, {"neighbours"})
offsets, lists = hm["neighbours.offsets"], hm["neighbours"]
agree = checked = 0
for q in range(0, len(unit), 97):  # a 1% sample
    row = rows_of_live[q]
    theirs = {index_of[int(ids[rows_of_live[j]])] for j in found[q] if j != q and j >= 0}
    theirs = set(list(theirs)[:k])
    a = index_of[int(ids[row])]
    mine = set(lists[offsets[a]:offsets[a + 1]].tolist())
    agree += len(mine & theirs)
    checked += len(theirs)
n, d = unit.shape
print(json.dumps({"rows": int(n), "dims": int(d), "faiss_search_seconds": search, "faiss_total_seconds": total,
                  "faiss_gflops": 2 * n * n * d / search / 1e9, "agreement": agree / max(checked, 1)}))
