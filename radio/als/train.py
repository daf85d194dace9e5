"""Implicit-feedback ALS (Hu, Koren and Volinsky, 2008) for Discover Weekly, with `implicit`.

TypeScript (radio/discover-weekly.ts) reads the listening history, aggregates it into
(user, item, weight) triples and writes them as plain little-endian arrays in a folder; this
script does only the math and writes plain arrays back:

  in   params.json   {users, items, factors, iterations, regularization, alpha, seed, candidates}
       rows.i32      user index of each triple
       cols.i32      item index of each triple
       weights.f32   listening weight of each triple (plays, a skip weighs little)
  out  item_factors.f32   items x factors, row-major (the radio's learned vectors)
       candidates.i32     users x candidates: each user's best items, never one they played,
                          best first; -1 pads a short row
       result.json        {train_seconds, factors, candidates}

Confidence is 1 + alpha * weight (implicit takes the matrix values as confidence). One thread
and a fixed seed: the same input trains the same model.
"""

import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402
from implicit.cpu.als import AlternatingLeastSquares  # noqa: E402


def main(folder: str) -> None:
    with open(os.path.join(folder, "params.json")) as f:
        p = json.load(f)
    rows = np.fromfile(os.path.join(folder, "rows.i32"), dtype="<i4")
    cols = np.fromfile(os.path.join(folder, "cols.i32"), dtype="<i4")
    weights = np.fromfile(os.path.join(folder, "weights.f32"), dtype="<f4")
    if not (len(rows) == len(cols) == len(weights)):
        raise SystemExit("rows, cols and weights differ in length")
    users, items = int(p["users"]), int(p["items"])
    conf = (1.0 + float(p["alpha"]) * weights).astype(np.float32)
    user_items = csr_matrix((conf, (rows, cols)), shape=(users, items), dtype=np.float32)

    model = AlternatingLeastSquares(
        factors=int(p["factors"]),
        regularization=float(p["regularization"]),
        iterations=int(p["iterations"]),
        random_state=int(p["seed"]),
        num_threads=1,
        calculate_training_loss=False,
    )
    started = time.perf_counter()
    model.fit(user_items, show_progress=False)
    train_seconds = time.perf_counter() - started

    k = min(int(p["candidates"]), items)
    ids, _scores = model.recommend(
        np.arange(users), user_items, N=k, filter_already_liked_items=True
    )
    ids = np.asarray(ids, dtype="<i4")
    if ids.shape[1] < int(p["candidates"]):
        pad = np.full((users, int(p["candidates"]) - ids.shape[1]), -1, dtype="<i4")
        ids = np.hstack([ids, pad])
    np.asarray(model.item_factors, dtype="<f4").tofile(os.path.join(folder, "item_factors.f32"))
    ids.tofile(os.path.join(folder, "candidates.i32"))
    with open(os.path.join(folder, "result.json"), "w") as f:
        json.dump(
            {"train_seconds": train_seconds, "factors": int(model.item_factors.shape[1]), "candidates": int(p["candidates"])},
            f,
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: train.py <folder with params.json, rows.i32, cols.i32, weights.f32>")
    main(sys.argv[1])
