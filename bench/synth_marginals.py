"""Marginals of a synthetic data set against the real data's (docs/synth.md); the planted repurchase
rates and the last week's concentration are bench/synth_rates.py's.
Usage: python3 bench/synth_marginals.py DIR [HM_STATS_DIR=../shared/data/hm-stats]"""
import csv, collections, numpy as np, sys
d = sys.argv[1]
stats = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/hm-stats"
tx = list(csv.reader(open(d+'/transactions_train.csv')))[1:]
arts = {r['article_id']: r for r in csv.DictReader(open(d+'/articles.csv'))}
ncust = sum(1 for _ in open(d+'/customers.csv')) - 1
n=len(tx); print('rows', n)
days=collections.Counter(r[0] for r in tx)
real=[int(r['transactions']) for r in csv.DictReader(open(stats+'/transaction_daily_metrics.csv'))]
real_days=[r['date'] for r in csv.DictReader(open(stats+'/transaction_daily_metrics.csv'))]
syn=[days.get(x,0) for x in real_days]
print('daily corr', np.corrcoef(real, syn)[0,1])
print('online', sum(r[4]=='2' for r in tx)/n)
pg=collections.Counter(arts[r[2]]['product_group_name'] for r in tx); print('tx product group', {k: round(v/n,3) for k,v in pg.most_common(6)})
ig=collections.Counter(arts[r[2]]['index_group_name'] for r in tx); print('tx index group', {k: round(v/n,3) for k,v in ig.items()})
pa=collections.Counter(r[2] for r in tx); v=np.array(list(pa.values())); print('per-article p25/50/75 / mean', np.percentile(v,[25,50,75])/v.mean(), v.mean(), 'sold', len(pa)/len(arts))
pc=collections.Counter(r[1] for r in tx); c=np.array(list(pc.values())); print('per-customer mean', c.mean(), 'max', c.max(), 'no tx', 1-len(pc)/ncust)
dist=collections.defaultdict(set)
for r in tx: dist[r[1]].add(r[2])
print('one distinct article share', sum(len(s)==1 for s in dist.values())/len(pc))
dup=collections.Counter((r[1],r[2],r[0],r[4]) for r in tx); print('dup rows', sum(v-1 for v in dup.values())/n)
print('inactive last 3 months', 1 - len(set(r[1] for r in tx if r[0]>='2020-06-22'))/len(pc))
