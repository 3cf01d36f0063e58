#!/usr/bin/env python3
"""The peers of the recommendations eval: the `implicit` library's item-item cosine, BM25 and
ALS, fed the split `crm-recommendations eval` wrote, writing top-k lists it scores with its own
metric code (so every row of the table is measured the same way).

    python scripts/eval_peers.py --dir target/eval/random --k 10 --seed 42

Reads DIR/train.tsv (user, item, time) and DIR/users.txt; writes DIR/peer-<name>.tsv, each a
`# label<TAB>seconds` line then `user<TAB>item,item,...` best first. Full ranking: every item
the user did not train on is a candidate (filter_already_liked_items). Models run at the
library's defaults and, for ALS, also at a setting tuned on a validation split of the training
part, as our knobs are (tests never seen)."""
import argparse
import os
import sys
import time
import warnings

# One BLAS thread per process: implicit warns otherwise, and ALS is faster so on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# implicit converts the sliced rows it is given itself; its note about it is noise here.
warnings.filterwarnings("ignore", message="Method expects CSR input")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from implicit.als import AlternatingLeastSquares  # noqa: E402
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender  # noqa: E402


def load(d):
    users, items, rows = {}, {}, []
    with open(os.path.join(d, "train.tsv")) as f:
        for line in f:
            u, i, t = line.rstrip("\n").split("\t")
            rows.append((users.setdefault(u, len(users)), items.setdefault(i, len(items)), int(t)))
    with open(os.path.join(d, "users.txt")) as f:
        wanted = [line.strip() for line in f if line.strip()]
    return users, items, rows, wanted


def matrix(rows, n_users, n_items):
    u = np.array([r[0] for r in rows], dtype=np.int32)
    i = np.array([r[1] for r in rows], dtype=np.int32)
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (u, i)), shape=(n_users, n_items))
    m = m.tocsr()
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def top(model, m, ids, k):
    """Top-k per user index in `ids`, seen items filtered out."""
    got, _ = model.recommend(ids, m[ids], N=k, filter_already_liked_items=True)
    return got


def ndcg(lists, held, k):
    """Only for choosing ALS's setting on the validation split; the table is scored in Rust."""
    total, n = 0.0, 0
    for u, h in held.items():
        dcg = sum(1.0 / np.log2(r + 2) for r, i in enumerate(lists[u][:k]) if i in h)
        idcg = sum(1.0 / np.log2(r + 2) for r in range(min(len(h), k)))
        total += dcg / idcg
        n += 1
    return total / max(n, 1)


def als(factors, reg, iters, seed):
    return AlternatingLeastSquares(
        factors=factors, regularization=reg, iterations=iters, random_state=seed
    )


def tune_als(rows, n_users, n_items, k, seed):
    """ALS's grid on a random 80/20 split of the training rows (another seed)."""
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(rows))
    cut = int(round(len(rows) * 0.8))
    inner = [rows[j] for j in order[:cut]]
    m = matrix(inner, n_users, n_items)
    held = {}
    for j in order[cut:]:
        u, i, _ = rows[j]
        if m[u, i] == 0:
            held.setdefault(u, set()).add(i)
    ids = np.array(sorted(held), dtype=np.int32)
    best = None
    for factors in (32, 64, 128):
        for reg in (0.01, 0.1, 1.0):
            for iters in (15, 30):
                model = als(factors, reg, iters, seed)
                model.fit(m, show_progress=False)
                lists = dict(zip(ids.tolist(), top(model, m, ids, k).tolist()))
                score = ndcg(lists, held, k)
                if best is None or score > best[0]:
                    best = (score, factors, reg, iters)
    print(f"eval_peers: ALS validation best ndcg {best[0]:.4f} at factors {best[1]} "
          f"regularization {best[2]} iterations {best[3]}", file=sys.stderr)
    return best[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    users, items, rows, wanted = load(a.dir)
    names = {v: k for k, v in items.items()}
    m = matrix(rows, len(users), len(items))
    ids = np.array([users[u] for u in wanted if u in users], dtype=np.int32)
    back = {v: k for k, v in users.items()}
    factors, reg, iters = tune_als(rows, len(users), len(items), a.k, a.seed)
    models = [
        ("implicit-cosine", "implicit CosineRecommender (K=20, default)", lambda: CosineRecommender()),
        ("implicit-cosine-k100", "implicit CosineRecommender (K=100)", lambda: CosineRecommender(K=100)),
        ("implicit-bm25", "implicit BM25Recommender (K=20, K1=1.2, B=0.75, default)", lambda: BM25Recommender()),
        ("implicit-bm25-k100", "implicit BM25Recommender (K=100)", lambda: BM25Recommender(K=100)),
        ("implicit-als", "implicit ALS (factors=100, reg=0.01, 15 it., default)", lambda: als(100, 0.01, 15, a.seed)),
        ("implicit-als-tuned", f"implicit ALS tuned (factors={factors}, reg={reg}, {iters} it.)",
         lambda: als(factors, reg, iters, a.seed)),
    ]
    for slug, label, make in models:
        t = time.perf_counter()
        model = make()
        model.fit(m, show_progress=False)
        got = top(model, m, ids, a.k)
        seconds = time.perf_counter() - t
        with open(os.path.join(a.dir, f"peer-{slug}.tsv"), "w") as f:
            f.write(f"# {label}\t{seconds:.3f}\n")
            for u, lst in zip(ids.tolist(), got.tolist()):
                f.write(back[u] + "\t" + ",".join(names[i] for i in lst if i >= 0) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
