"""pipelines/hm.json's process written the way a good Kaggler would write it in Python: polars,
numpy, faiss and implicit, vectorised throughout (no per-customer Python loop). The same files,
params and steps as hmpipe's stages: ingest, split (last 7 days held out), embed-neighbours (k = 10
cosine neighbours of the image embeddings), filter (neighbours of what each customer bought, in a
department and an index they bought from), als-train (the seed's thresholds and step weights, 100
factors, 15 iterations, 3 CG steps), rank (top 12 by user · item), fill (a seeded sample of the
other candidates), fallback (bounded co-purchase, then last week's popularity), submit (the CSV)
and evaluate (MAP@12 as the competition's mapk).

  python3 hm_pipeline.py DATA_DIR OUT_DIR THREADS

Prints one JSON object: seconds per stage, the total, and the evaluation's figures.
"""

import json
import os
import sys
import time

import numpy as np
import polars as pl

K, TOP, FACTORS, ITERATIONS, REGULARIZATION = 10, 12, 100, 15, 0.01  # implicit's CG takes 3 steps
MIN_CUSTOMER_ROWS = MIN_ARTICLE_ROWS = 5
CUTOFF_DATE, RECENT_WEIGHT, OLDER_WEIGHT = "2020-03-20", 5.0, 1.0
COPURCHASE_BUYERS, COPURCHASE_RECENT, COPURCHASE_PER_ARTICLE, POPULARITY_DAYS = 100, 20, 24, 7
RANK_CHUNK = 4_000_000


class Stopwatch:
    def __init__(self):
        self.seconds, self.start = {}, time.perf_counter()

    def lap(self, name):
        now = time.perf_counter()
        self.seconds[name] = round(now - self.start, 2)
        print(f"  {name}: {self.seconds[name]:.1f} s", file=sys.stderr, flush=True)
        self.start = now


def ingest(data):
    articles = pl.read_csv(
        f"{data}/articles.csv",
        columns=["article_id", "department_no", "index_code"],
        schema_overrides={"article_id": pl.Int64, "department_no": pl.Int32, "index_code": pl.String},
    ).with_row_index("a")
    customers = pl.read_csv(f"{data}/customers.csv", columns=["customer_id"])
    customer_enum = pl.Enum(customers["customer_id"])
    transactions = (
        pl.read_csv(
            f"{data}/transactions_train.csv",
            schema_overrides={"t_dat": pl.Date, "customer_id": pl.String, "article_id": pl.Int64,
                              "price": pl.Float32, "sales_channel_id": pl.UInt8},
        )
        .with_columns(
            c=pl.col("customer_id").cast(customer_enum).to_physical().cast(pl.UInt32),
            day=pl.col("t_dat").cast(pl.Int32),
        )
        .join(articles.select("article_id", "a"), on="article_id")
        .select("day", "c", "a", "price", "sales_channel_id")
    )
    return articles, customers, transactions


def split(transactions):
    last = transactions["day"].max()
    test_first = last - 7 + 1
    return transactions.filter(pl.col("day") < test_first), transactions.filter(pl.col("day") >= test_first)


def neighbours(data, articles, threads):
    import faiss

    faiss.omp_set_num_threads(threads)
    vectors = np.load(f"{data}/image_embeddings.npy").astype(np.float32, copy=False)
    ids = np.load(f"{data}/image_embeddings_ids.npy")
    rows = pl.DataFrame({"article_id": ids, "row": np.arange(len(ids))}).join(
        articles.select("article_id", "a"), on="article_id")
    vectors = np.ascontiguousarray(vectors[rows["row"].to_numpy()])
    norms = np.linalg.norm(vectors, axis=1)
    present = norms > 0
    vectors, index_of_row = vectors[present] / norms[present, None], rows["a"].to_numpy()[present]
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, found = index.search(vectors, K + 1)
    source = np.repeat(index_of_row, K + 1)
    target = index_of_row[found.ravel()]
    keep = (found.ravel() >= 0) & (source != target)
    table = pl.DataFrame({"a": source[keep], "n": target[keep]}).with_columns(pl.col("a", "n").cast(pl.UInt32))
    return table.group_by("a", maintain_order=True).head(K)


def filter_candidates(train, articles, neighbour_pairs, parts=8):
    # In parts by customer: all 1.37M customers' (bought, neighbour) pairs at once outgrow 24 GB.
    attributes = articles.select(
        pl.col("a").cast(pl.UInt32),
        department=pl.col("department_no").rank("dense").cast(pl.UInt64),
        index=pl.col("index_code").rank("dense").cast(pl.UInt64))
    key = lambda column: pl.col("c").cast(pl.UInt64) * (1 << 20) + pl.col(column)
    bought = train.select("c", "a").unique()
    found = []
    for part in range(parts):
        mine = bought.filter(pl.col("c") % parts == part).join(attributes, on="a")
        departments = mine.select(key=key("department")).unique()["key"]
        indexes = mine.select(key=key("index")).unique()["key"]
        found.append(
            mine.select("c", "a").join(neighbour_pairs, on="a").select("c", a="n")
            .join(attributes, on="a")
            .filter(key("department").is_in(departments.implode()) & key("index").is_in(indexes.implode()))
            .select("c", "a").unique())
    return pl.concat(found).sort("c", "a")


def als_train(train, customers, articles, threads):
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix
    from threadpoolctl import threadpool_limits

    cutoff = pl.lit(CUTOFF_DATE).str.to_date().cast(pl.Int32)
    cells = (
        train.with_columns(w=pl.when(pl.col("day") >= cutoff).then(RECENT_WEIGHT).otherwise(OLDER_WEIGHT))
        .group_by("c", "a").agg(rows=pl.len(), weight=pl.col("w").sum())
    )
    c, a = cells["c"].to_numpy(), cells["a"].to_numpy()
    rows, weight = cells["rows"].to_numpy(), cells["weight"].to_numpy().astype(np.float32)
    keep_customer = np.ones(customers, bool)
    keep_article = np.ones(articles, bool)
    while True:
        customer_rows = np.bincount(c, weights=rows * keep_article[a], minlength=customers)
        new_customers = keep_customer & (customer_rows >= MIN_CUSTOMER_ROWS)
        article_rows = np.bincount(a, weights=rows * new_customers[c], minlength=articles)
        new_articles = keep_article & (article_rows >= MIN_ARTICLE_ROWS)
        if (new_customers == keep_customer).all() and (new_articles == keep_article).all():
            break
        keep_customer, keep_article = new_customers, new_articles
    model_customers, model_articles = np.flatnonzero(keep_customer), np.flatnonzero(keep_article)
    row_of = np.full(customers, -1, np.int64)
    row_of[model_customers] = np.arange(len(model_customers))
    column_of = np.full(articles, -1, np.int64)
    column_of[model_articles] = np.arange(len(model_articles))
    kept = keep_customer[c] & keep_article[a]
    matrix = csr_matrix((weight[kept], (row_of[c[kept]], column_of[a[kept]])),
                        shape=(len(model_customers), len(model_articles)))
    with threadpool_limits(1, "blas"):  # as implicit asks: its own threads, BLAS single-threaded
        model = AlternatingLeastSquares(factors=FACTORS, regularization=REGULARIZATION, alpha=1.0,
                                        iterations=ITERATIONS, use_cg=True,
                                        calculate_training_loss=False, num_threads=threads, random_state=0)
        model.fit(matrix, show_progress=False)
    return row_of, column_of, model.user_factors, model.item_factors


def rank(candidates, row_of, column_of, users, items):
    c, a = candidates["c"].to_numpy(), candidates["a"].to_numpy()
    rows, columns = row_of[c], column_of[a]
    scored = np.flatnonzero((rows >= 0) & (columns >= 0))
    scores = np.empty(len(scored), np.float32)
    for start in range(0, len(scored), RANK_CHUNK):
        part = scored[start:start + RANK_CHUNK]
        scores[start:start + RANK_CHUNK] = np.einsum("ij,ij->i", users[rows[part]], items[columns[part]])
    return (
        pl.DataFrame({"c": c[scored], "a": a[scored], "score": scores})
        .sort(["c", "score", "a"], descending=[False, True, False])
        .group_by("c", maintain_order=True).head(TOP)
        .with_columns(position=pl.int_range(pl.len()).over("c"), source=pl.lit("rank"))
    )


def with_have(frame, predictions):
    """`frame` with `have`: how many predictions its customer already has (0 when none)."""
    have = predictions.group_by("c").agg(have=pl.len())
    return frame.join(have, on="c", how="left").with_columns(pl.col("have").fill_null(0))


def top_up(ordered, source):
    """From rows ordered best first within each customer (with `have`), as many as the customer
    lacks of TOP, placed after what they have."""
    place = pl.int_range(pl.len()).over("c")
    return (
        ordered.filter(place < TOP - pl.col("have"))
        .with_columns(position=pl.col("have") + place, source=pl.lit(source))
        .select("c", "a", "position", "source")
    )


def fill(candidates, ranked):
    rng = np.random.default_rng(0)
    short = (
        with_have(candidates, ranked)
        .filter(pl.col("have") < TOP)
        .join(ranked.select("c", "a"), on=["c", "a"], how="anti")
    )
    sample = top_up(short.with_columns(key=pl.Series(rng.random(short.height))).sort("c", "key"), "fill")
    return pl.concat([ranked.select("c", "a", "position", "source"), sample])


def fallback(predictions, train, customers):
    history = train.group_by("c", "a").agg(last=pl.col("day").max())
    recent = (
        history.sort(["c", "last", "a"], descending=[False, True, False])
        .group_by("c", maintain_order=True).head(COPURCHASE_RECENT)
    )
    buyers = (
        history.sort(["a", "last", "c"], descending=[False, True, False])
        .group_by("a", maintain_order=True).head(COPURCHASE_BUYERS)
        .select("a", "c")
    )
    table = (
        buyers.join(recent.select("c", other="a"), on="c")
        .filter(pl.col("other") != pl.col("a"))
        .group_by("a", "other").agg(count=pl.len())
        .sort(["a", "count", "other"], descending=[False, True, False])
        .group_by("a", maintain_order=True).head(COPURCHASE_PER_ARTICLE)
    )
    short = with_have(recent.select("c", "a"), predictions).filter(pl.col("have") < TOP)
    suggested = top_up(
        short.join(table, on="a")
        .group_by("c", "other").agg(score=pl.col("count").sum(), have=pl.col("have").first())
        .rename({"other": "a"})
        .join(history.select("c", "a"), on=["c", "a"], how="anti")
        .join(predictions.select("c", "a"), on=["c", "a"], how="anti")
        .sort(["c", "score", "a"], descending=[False, True, False]),
        "co-purchase")
    predictions = pl.concat([predictions, suggested])
    last = train["day"].max()
    popular = (
        train.group_by("a").agg(recent=(pl.col("day") > last - POPULARITY_DAYS).sum(), total=pl.len())
        .sort(["recent", "total", "a"], descending=[True, True, False])
        .head(2 * TOP)["a"].to_numpy()
    )
    # Every customer's top-up from the popular list, skipping what they already have.
    everyone = pl.DataFrame({"c": np.arange(customers, dtype=np.uint32)})
    offered = everyone.join(pl.DataFrame({"a": popular, "rank": np.arange(len(popular))}), how="cross")
    unseen = offered.join(predictions.select("c", "a"), on=["c", "a"], how="anti")
    topped = top_up(with_have(unseen, predictions).sort("c", "rank"), "popularity")
    return pl.concat([predictions, topped]).sort("c", "position")


def submit(predictions, customers, articles, out):
    ids = articles["article_id"].cast(pl.String).str.zfill(10)
    lists = (
        predictions.with_columns(id=ids.gather(predictions["a"]))
        .group_by("c", maintain_order=True).agg(prediction=pl.col("id").str.join(" "))
    )
    table = customers.with_row_index("c").join(lists, on="c", how="left").sort("c")
    table.select("customer_id", "prediction").write_csv(f"{out}/submission.csv")


def evaluate(predictions, test):
    truth = test.select("c", "a").unique()
    relevant = truth.group_by("c").agg(n=pl.len())
    hits = (
        predictions.join(relevant, on="c")
        .join(truth.with_columns(hit=pl.lit(1)), on=["c", "a"], how="left")
        .with_columns(hit=pl.col("hit").fill_null(0))
        .sort("c", "position")
        .with_columns(precision=pl.col("hit").cum_sum().over("c") / (pl.col("position") + 1))
        .group_by("c").agg(ap=(pl.col("precision") * pl.col("hit")).sum() / pl.min_horizontal(pl.col("n").first(), TOP))
    )
    score = hits["ap"].sum() / relevant.height
    sources = predictions.group_by("source").agg(pl.len()).to_dicts()
    return {"map@12": score, "evaluated_customers": relevant.height,
            "predictions": {s["source"]: s["len"] for s in sources}}


def main():
    data, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    watch = Stopwatch()
    articles, customers, transactions = ingest(data)
    watch.lap("ingest")
    train, test = split(transactions)
    watch.lap("split")
    neighbour_pairs = neighbours(data, articles, threads)
    watch.lap("neighbours")
    candidates = filter_candidates(train, articles, neighbour_pairs)
    watch.lap("filter")
    row_of, column_of, users, items = als_train(train, customers.height, articles.height, threads)
    watch.lap("als")
    ranked = rank(candidates, row_of, column_of, users, items)
    watch.lap("rank")
    filled = fill(candidates, ranked)
    watch.lap("fill")
    predictions = fallback(filled, train, customers.height)
    watch.lap("fallback")
    submit(predictions, customers, articles, out)
    watch.lap("submit")
    figures = evaluate(predictions, test)
    watch.lap("evaluate")
    figures["candidates"] = candidates.height
    print(json.dumps({"seconds": watch.seconds, "total": round(sum(watch.seconds.values()), 2), **figures}))


if __name__ == "__main__":
    main()
