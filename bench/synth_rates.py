"""The planted rates of a synthetic (or the real) data set, with polars so scale 1 takes seconds:
repurchase of the same article / product_code / product type among the (customer, article) pairs
bought 2020-08-12..25 (docs/synth.md, against ../shared/data-facts.md: 3.36%, 8.22%, 64.34%, 93.35%
of pairs from customers with history), the last week's top-12 share (real: 2.8%) and its buyers
(real: 68,984, mean 3.48 rows, median 2, max 104).
Usage: python3 bench/synth_rates.py DIR"""
import sys
import polars as pl

d = sys.argv[1]
tx = pl.read_csv(f"{d}/transactions_train.csv", columns=["t_dat", "customer_id", "article_id"],
                 schema_overrides={"t_dat": pl.Utf8, "customer_id": pl.Categorical, "article_id": pl.Int64})
arts = pl.read_csv(f"{d}/articles.csv", columns=["article_id", "product_code", "product_type_no"],
                   schema_overrides={"article_id": pl.Int64, "product_code": pl.Int64, "product_type_no": pl.Int64})
tx = tx.join(arts, on="article_id", how="left")
history = tx.filter(pl.col("t_dat") < "2020-08-12")
pairs = tx.filter((pl.col("t_dat") >= "2020-08-12") & (pl.col("t_dat") <= "2020-08-25")).select(
    "customer_id", "article_id", "product_code", "product_type_no").unique(["customer_id", "article_id"])
n = pairs.height
def share(key):
    seen = history.select("customer_id", key).unique()
    return pairs.join(seen, on=["customer_id", key], how="semi").height / n
with_history = pairs.join(history.select("customer_id").unique(), on="customer_id", how="semi").height / n
last = tx.filter(pl.col("t_dat") >= "2020-09-16")
top12 = last.group_by("article_id").len().sort("len", descending=True).head(12)["len"].sum() / last.height
buyers = last.group_by("customer_id").len()["len"]
print(f"pairs {n}: same article {share('article_id'):.4f}, same product {share('product_code'):.4f}, "
      f"same type {share('product_type_no'):.4f}, with history {with_history:.4f}; "
      f"last week {last.height} rows, top-12 share {top12:.4f}, distinct articles {last['article_id'].n_unique()}, "
      f"{buyers.len()} buyers: mean {buyers.mean():.2f} rows, median {buyers.median():.0f}, max {buyers.max()}")
