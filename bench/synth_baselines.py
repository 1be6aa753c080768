"""The two baselines evaluate prints, computed independently with polars on a data set's last week,
and when its repeat purchases happen: what synth's repeat timing is calibrated against (docs/synth.md).

On the real data (../shared/STAGES.md, public leaderboard) last-week popularity and repurchase +
popularity score about the same (~0.022 both, ratio ~1.0); a synthetic set whose ratio is far below 1
plants repeat purchases at the wrong time (too long after the first purchase to be predictable).

Test week: the last 7 days; popularity: the 12 most bought articles of the 7 days before it;
repurchase: the customer's articles of the 28 days before it, latest purchase first (ties: more
purchases first, then article), then popularity, 12 in all.
Usage: python3 bench/synth_baselines.py DIR"""
import datetime
import sys
import polars as pl

d = sys.argv[1]
tx = pl.read_csv(f"{d}/transactions_train.csv", columns=["t_dat", "customer_id", "article_id"],
                 schema_overrides={"t_dat": pl.Date, "customer_id": pl.Utf8, "article_id": pl.Int64})
tx = tx.with_columns(pl.col("customer_id").cast(pl.Categorical))
end = tx["t_dat"].max()
test_start = end - datetime.timedelta(days=6)
train = tx.filter(pl.col("t_dat") < test_start)
test = tx.filter(pl.col("t_dat") >= test_start).select("customer_id", "article_id").unique()
truth = test.group_by("customer_id").agg(pl.col("article_id").alias("truth"))

week = train.filter(pl.col("t_dat") >= test_start - datetime.timedelta(days=7))
popular = week.group_by("article_id").len().sort(["len", "article_id"], descending=[True, False]).head(12)["article_id"].to_list()

recent = train.filter(pl.col("t_dat") >= test_start - datetime.timedelta(days=28))
own = (recent.group_by("customer_id", "article_id").agg(pl.col("t_dat").max().alias("last"), pl.len().alias("n"))
       .sort(["customer_id", "last", "n", "article_id"], descending=[False, True, True, False])
       .group_by("customer_id", maintain_order=True).agg(pl.col("article_id").head(12).alias("own")))


def average_precision(predicted, bought):
    bought = set(bought)
    hits, score = 0, 0.0
    for k, a in enumerate(predicted[:12]):
        if a in bought:
            hits += 1
            score += hits / (k + 1)
    return score / min(len(bought), 12)


rows = truth.join(own, on="customer_id", how="left").iter_rows()
pop_total = rep_total = 0.0
n = 0
for _, bought, mine in rows:
    mine = mine or []
    filled = mine + [a for a in popular if a not in mine]
    pop_total += average_precision(popular, bought)
    rep_total += average_precision(filled[:12], bought)
    n += 1
pop, rep = pop_total / n, rep_total / n

# When the repeats happen: for each test pair bought before, the days since the last earlier purchase.
last_bought = train.group_by("customer_id", "article_id").agg(pl.col("t_dat").max().alias("last"))
repeats = test.join(last_bought, on=["customer_id", "article_id"], how="inner").with_columns(
    ((pl.lit(test_start) - pl.col("last")).dt.total_days()).alias("gap"))
share = lambda days: repeats.filter(pl.col("gap") <= days).height / test.height
# Precision of "the customer's own articles of the last 7 days" as a guess for the test week.
own7 = train.filter(pl.col("t_dat") >= test_start - datetime.timedelta(days=7)).select("customer_id", "article_id").unique()
own7_hits = own7.join(test, on=["customer_id", "article_id"], how="semi").height
pop_guesses = truth.height * 12
pop_hits = test.filter(pl.col("article_id").is_in(popular)).height
print(f"test week from {test_start}: {n} buyers, {test.height} pairs")
print(f"MAP@12: popularity {pop:.5f}, repurchase(28d)+popularity {rep:.5f}, ratio {rep / pop:.3f}")
print(f"pairs bought before: {repeats.height / test.height:.4f}; last bought within 7d {share(7):.4f}, "
      f"14d {share(14):.4f}, 28d {share(28):.4f}, 84d {share(84):.4f}")
print(f"hit rate per guess: own last-7-day articles {own7_hits / max(own7.height, 1):.4f} ({own7.height} guesses), "
      f"popularity top 12 {pop_hits / pop_guesses:.4f}")
