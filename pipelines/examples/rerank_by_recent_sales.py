#!/usr/bin/env python3
"""A ranker written in Python, run by hmpipe as a command stage between its Swift stages: each
customer's image-neighbour candidates (filter's) ordered by how often they sold in the last
`DAYS` days of training (ties: the lower article index), the best 12 with their sales as scores:
the `ranked` table that fill reads. Vectorised with numpy: no loop over customers.

    rerank_by_recent_sales.py CANDIDATES TRANSACTIONS RANKED
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import numpy as np  # noqa: E402

import hmpipe  # noqa: E402

DAYS, KEEP = 7, 12

candidates_path, transactions_path, ranked_path = sys.argv[1:4]
candidates = hmpipe.open_artifact(candidates_path).raw_column("candidates")
transactions = hmpipe.open_artifact(transactions_path)
day = transactions.raw_column("day")["values"]
article = transactions.raw_column("article")["values"]

offsets, values = candidates["offsets"].astype(np.int64), candidates["values"]
customers = len(offsets) - 1
top = int(max(article.max(initial=0), values.max(initial=0))) + 1
sales = np.bincount(article[day > day.max(initial=0) - DAYS], minlength=top).astype(np.float32)

owner = np.repeat(np.arange(customers), np.diff(offsets))
scores = sales[values]
order = np.lexsort((values, -scores, owner))  # by customer, then best first, then article
place = np.arange(len(order)) - offsets[owner[order]]
kept = order[place < KEEP]
counts = np.bincount(owner[kept], minlength=customers)
ranked_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint64)
hmpipe.write_table(ranked_path, {
    "articles": (ranked_offsets, values[kept].astype(np.uint32)),
    "scores": (ranked_offsets, scores[kept]),
})
print(f"ranked {customers} customers' candidates by their sales in the last {DAYS} days")
