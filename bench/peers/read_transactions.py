"""Reads transactions_train.csv into typed columns with the customer id dictionary-encoded, as
ingest does, with polars or pandas; `polars-strings` keeps the customer ids as plain strings (less
work than ingest does). Prints rows and seconds.
Usage: python3 read_transactions.py polars|polars-strings|pandas FILE [THREADS]"""
import os, sys, time

tool, path = sys.argv[1], sys.argv[2]
threads = sys.argv[3] if len(sys.argv) > 3 else str(os.cpu_count())
os.environ["POLARS_MAX_THREADS"] = threads
start = time.perf_counter()
if tool.startswith("polars"):
    import polars as pl
    customer = pl.String if tool == "polars-strings" else pl.Categorical
    df = pl.read_csv(path, schema_overrides={"t_dat": pl.Date, "customer_id": customer, "article_id": pl.UInt32,
                                             "price": pl.Float32, "sales_channel_id": pl.UInt8})
    rows = df.height
else:
    import pandas as pd
    df = pd.read_csv(path, dtype={"customer_id": "category", "article_id": "uint32", "price": "float32",
                                  "sales_channel_id": "uint8"}, parse_dates=["t_dat"], engine="c")
    rows = len(df)
print(f"{tool} rows={rows} seconds={time.perf_counter() - start:.2f}")
