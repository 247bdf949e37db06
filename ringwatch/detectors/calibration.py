"""The ring verdict model, fitted on the deployment's own labels (positive-unlabelled learning).

Hand-set weights (verdicts.score_rings) fit the world they were tuned on. At every full run the
model is fitted again on what this platform's own people decided:
- positive rings contain a banned account or one labelled `fraud` in review;
- negative rings have no such member and one cleared (`clear` status, `legit` review) member;
- everything else is unlabelled: most fraud is never caught, so "not banned" is not "benign".

Method (Elkan & Noto 2008, "Learning classifiers from only positive and unlabeled data"):
1. g(x) = P(labelled | x): a logistic regression of labelled-positive rings against all others,
   predicted out of fold; c = the mean of g over held-out labelled positives estimates the share
   of fraud rings that carry a label (assumption: which fraud rings get caught does not depend on
   the ring once its features are known).
2. f(x) = P(fraud | x): a logistic regression where each unlabelled ring counts as a positive
   with weight w(x) = (1-c)/c * g/(1-g) and as a negative with weight 1-w; labelled rings count
   as what they are.
Features derived from the labels themselves (banned share, evaders of banned accounts, the
household flag, which is cleared only while fewer than two members are banned) are left out, or
the model would learn that banned rings are banned.

The whole procedure is cross-validated by ring (stratified folds over rings, seeded); the
out-of-fold scores give the ROC AUC and the thresholds: the lowest score at which the estimated
precision of every ring scored at or above it reaches the target. Estimated precision counts
labelled positives as found fraud, scaled by 1/c for the fraud nobody labelled (at most every
unlabelled ring above the threshold), and labelled negatives as false positives.

Scores are mapped monotonically onto the scale every consumer knows (`fraud` at and above
VerdictParams.fraud_threshold, `suspicious` above its suspicious_threshold), so account risk,
review priority and strategies keep their meaning; the model's own probability and each
feature's contribution (coefficient x standardised value, on the logit) are in the evidence.

The fit re-weighs the mechanisms but does not flag a ring none of them supports: a ring the
hand-set model scores under `min_prior_score` (bans and evaders included) that the fit would
flag keeps the prior's score instead, and its explanation and the record say so
(`held_by_prior`).

With fewer than `min_positive_rings` positive rings, a cross-validated AUC under `min_cv_auc`,
a target precision no threshold reaches, or a fit that finds fewer labelled fraud rings at the
target precision than the prior (its ban-free logit, judged the same way), the hand-set weights
stay as the prior and the record says why.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from ringwatch.detectors.snapshot import NOT_BANNED, Snapshot
from ringwatch.detectors.verdicts import FEATURES, VerdictParams, score_rings

POSITIVE, NEGATIVE, UNLABELLED = 1, -1, 0
# Computed from bans or from evader matches against banned accounts: they are the label.
LABEL_DERIVED = ("banned_share", "evader_share", "household")
# The hand-set model's logit without its label-derived terms (household: its ban-free shape)
# is one more input: with few labels the fit leans on it, with many it can correct it.
PRIOR_LOGIT = "prior_logit"
FIT_FEATURES = (*(f for f in FEATURES if f not in LABEL_DERIVED), PRIOR_LOGIT)
# Counts enter on a log scale: the tenth shared card says less than the second.
_LOG = ("size", "shared_cards", "strong_kinds")
CALIBRATED, PRIOR = "calibrated", "prior"


@dataclass(frozen=True)
class CalibrationParams:
    """enabled: fit at full runs (off: the hand-set weights always).
    min_positive_rings: fewer labelled-positive rings than this keep the prior.
    target_precision_fraud / _suspicious: estimated precision the thresholds must reach.
    folds: cross-validation folds over rings. c: inverse L2 regularisation strength.
    min_negative_rings: labelled negatives needed to report the positive-vs-negative AUC."""

    enabled: bool = True
    min_positive_rings: int = 30
    target_precision_fraud: float = 0.995
    target_precision_suspicious: float = 0.99
    folds: int = 5
    c: float = 1.0
    min_negative_rings: int = 10
    # Below this cross-validated AUC the model has not learned to tell rings apart.
    min_cv_auc: float = 0.75
    # A threshold must keep at least this many labelled positives above it: the top few
    # scores are too few to estimate a precision from.
    min_support: int = 5
    # A fit may leave benign at most this share of the unlabelled rings the prior flags, unless
    # reviewers' clearances show the prior wrong there: labels say nothing about the rings
    # nobody labelled, and which rings get labelled is not random (a ring with more members
    # has more chances to have one banned), so a fit drifts towards what banned rings look
    # like and away from the small and careful ones the prior's mechanisms still catch.
    max_unlabelled_dropped: float = 0.1
    # A fit may leave benign at most this share of the labelled fraud rings the prior flags.
    # Under positive-unlabelled learning the labelled fraud is the deployment's sample of
    # fraud, so the share the fit drops there is what it would drop of the fraud nobody has
    # labelled yet: a fit that lets confirmed rings go is losing recall, whatever it gains.
    max_positive_dropped: float = 0.03
    # The fit re-weighs the mechanisms; it does not flag a ring none of them supports. A
    # ring the hand-set model scores under this (bans and evaders included) is not flagged:
    # labels come from enforcement, which is not a random sample of fraud, so a fit learns
    # whatever banned rings share, and three strangers on one VPN exit share "not a family"
    # with a proxy pool.
    min_prior_score: float = 0.03

    def __post_init__(self) -> None:
        if not 0 < self.target_precision_suspicious <= self.target_precision_fraud <= 1:
            raise ValueError("need 0 < target_precision_suspicious <= target_precision_fraud <= 1")
        if self.folds < 2 or self.min_positive_rings < self.folds:
            raise ValueError("need folds >= 2 and min_positive_rings >= folds")


@dataclass(frozen=True)
class VerdictModel:
    """A fitted linear model on standardised FIT_FEATURES, and its thresholds on P(fraud)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    fraud_threshold: float
    suspicious_threshold: float

    def design(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray((design_matrix(features, self.features) - self.mean) / self.scale)

    def contributions(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """rings x features: each feature's term on the logit."""
        return np.asarray(self.design(features) * self.coef)

    def probability(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        z = self.intercept + self.contributions(features).sum(axis=1)
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def to_record(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "fraud_threshold": float(self.fraud_threshold),
            "suspicious_threshold": float(self.suspicious_threshold),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> VerdictModel:
        return cls(
            features=tuple(rec["features"]),
            mean=np.asarray(rec["mean"], dtype=np.float64),
            scale=np.asarray(rec["scale"], dtype=np.float64),
            coef=np.asarray(rec["coef"], dtype=np.float64),
            intercept=float(rec["intercept"]),
            fraud_threshold=float(rec["fraud_threshold"]),
            suspicious_threshold=float(rec["suspicious_threshold"]),
        )


@dataclass(frozen=True)
class Calibration:
    """The outcome of one fit: the model (None: the prior stays) and the run record."""

    model: VerdictModel | None
    record: dict[str, Any]


def account_labels(
    snapshot: Snapshot,
    positive: Sequence[str] = (),
    negative: Sequence[str] = (),
) -> np.ndarray:
    """Per snapshot row: POSITIVE (banned, or in `positive`), NEGATIVE (in `negative` and not
    positive), else UNLABELLED. A ban in force outranks an older clearance."""
    index = snapshot.account_index()
    out = np.zeros(snapshot.n_accounts, dtype=np.int8)
    neg = [index[a] for a in negative if a in index]
    out[neg] = NEGATIVE
    pos = [index[a] for a in positive if a in index]
    out[pos] = POSITIVE
    out[snapshot.banned_at != NOT_BANNED] = POSITIVE
    return out


def ring_labels(groups: Sequence[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """Per ring: POSITIVE if any member is, else NEGATIVE if any member is, else UNLABELLED."""
    out = np.zeros(len(groups), dtype=np.int8)
    for r, rows in enumerate(groups):
        member = labels[rows]
        if (member == POSITIVE).any():
            out[r] = POSITIVE
        elif (member == NEGATIVE).any():
            out[r] = NEGATIVE
    return out


def with_prior_logit(
    features: Mapping[str, np.ndarray], prior: VerdictParams = VerdictParams()
) -> dict[str, np.ndarray]:
    """`features` plus PRIOR_LOGIT: the hand-set logit with bans and evaders zeroed and the
    household flag replaced by its ban-free shape."""
    free = dict(features)
    for name in ("banned_share", "evader_share"):
        free[name] = np.zeros_like(np.asarray(features[name], dtype=np.float64))
    free["household"] = np.asarray(features["household_shape"], dtype=np.float64)
    p = np.clip(score_rings(free, prior), 1e-9, 1 - 1e-9)
    return {**features, PRIOR_LOGIT: np.log(p / (1 - p))}


def design_matrix(features: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    missing = set(names) - set(features)
    if missing:
        raise ValueError(f"missing features {sorted(missing)}")
    cols = []
    for name in names:
        v = np.asarray(features[name], dtype=np.float64)
        cols.append(np.log2(np.maximum(v, 1.0)) if name in _LOG else v)
    return np.column_stack(cols) if cols else np.zeros((0, 0))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # A constant column carries nothing; a unit scale keeps its (zero) term finite.
    return mean, np.where(scale > 1e-9, scale, 1.0)


def _logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None, c: float
) -> tuple[np.ndarray, float]:
    model = LogisticRegression(C=c, max_iter=1000, solver="lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on separable toy data
        model.fit(x, y, sample_weight=w)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def _predict(x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-(x @ coef + intercept))))


def _folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    k = max(2, min(k, int(y.sum()), int((~y).sum())))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _elkan_noto(
    x: np.ndarray, label: np.ndarray, params: CalibrationParams, seed: int
) -> tuple[np.ndarray, float, float, float]:
    """(coef, intercept) of f on standardised `x`, the label frequency c and its upper
    90% bound."""
    s = label == POSITIVE
    g = np.zeros(len(s))
    for train, test in _folds(s, params.folds, seed):
        coef, b = _logistic(x[train], s[train].astype(int), None, params.c)
        g[test] = _predict(x[test], coef, b)
    c = float(np.clip(g[s].mean(), 1e-3, 1.0))
    # The upper end of c's 90% interval: assuming fewer uncaught fraud rings keeps the
    # estimated precision, and so the thresholds, on the safe side.
    c_high = float(np.clip(c + 1.645 * g[s].std() / np.sqrt(max(int(s.sum()), 1)), c, 1.0))
    unl = label == UNLABELLED
    gu = np.clip(g[unl], 0.0, 1.0 - 1e-6)
    w = np.clip((1.0 - c) / c * gu / (1.0 - gu), 0.0, 1.0)
    known = ~unl
    xs = np.vstack([x[known], x[unl], x[unl]])
    ys = np.concatenate([s[known].astype(int), np.ones(unl.sum(), int), np.zeros(unl.sum(), int)])
    ws = np.concatenate([np.ones(known.sum()), w, 1.0 - w])
    coef, b = _logistic(xs, ys, ws, params.c)
    return coef, b, c, c_high


def estimated_precision(
    scores: np.ndarray,
    label: np.ndarray,
    c: float,
    min_negatives: int = 0,
    min_support: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds ascending, estimated precision of rings scored >= each threshold).

    The PU estimate (labelled positives / c, at most all non-negative rings above, over all
    rings above) trusts c; when features say nothing, c falls to the label rate and every ring
    looks like uncaught fraud. So with at least `min_negatives` labelled negatives, the
    precision among labelled rings above the threshold caps it: reviewers' clearances are the
    one direct view of false positives. Thresholds with fewer than `min_support` labelled
    positives above get precision 0."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    lab = label[order]
    pos = np.cumsum(lab == POSITIVE)
    neg = np.cumsum(lab == NEGATIVE)
    unl = np.cumsum(lab == UNLABELLED)
    total = np.arange(1, len(s) + 1)
    found = np.minimum(pos / c, pos + unl)
    precision = found / total
    if min_negatives and neg[-1] >= min_negatives:
        precision = np.minimum(precision, pos / np.maximum(pos + neg, 1))
    precision = np.where(pos >= min_support, precision, 0.0)
    # Ties: a threshold takes every ring with that score, so keep the last of each run.
    last = np.r_[s[1:] != s[:-1], True]
    return s[last][::-1], precision[last][::-1]


def threshold_for(thresholds: np.ndarray, precision: np.ndarray, target: float) -> float | None:
    """The lowest threshold whose estimated precision reaches `target` (None: none does)."""
    ok = np.flatnonzero(precision >= target - 1e-12)
    return float(thresholds[ok[0]]) if ok.size else None


def _auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    if y.all() or not y.any():
        return None
    return round(float(roc_auc_score(y, scores)), 4)


def fit_verdict_model(
    features: Mapping[str, np.ndarray],
    labels: np.ndarray,
    params: CalibrationParams = CalibrationParams(),
    *,
    seed: int = 0,
    prior_flagged: np.ndarray | None = None,
) -> Calibration:
    """Fit, cross-validate and threshold the model on per-ring `labels` (POSITIVE/NEGATIVE/
    UNLABELLED), deterministic for `seed`. `record` is what the run record keeps.
    `prior_flagged`: per ring, whether the prior flags it (suspicious or fraud); with it, a fit
    that leaves too many of the prior's unlabelled flags benign is refused."""
    # One thread: BLAS threads fighting over a few shared cores made the fits ten times slower.
    with threadpool_limits(1):
        return _fit(features, labels, params, seed, prior_flagged)


def _dropped_by_fit(
    flagged_by_fit: np.ndarray, prior_flagged: np.ndarray, labels: np.ndarray
) -> dict[str, Any]:
    """What the fit leaves benign of the prior's flags: the unlabelled share, and the labelled
    rings in that zone (reviewers' clearances there are evidence against the prior)."""
    dropped = prior_flagged & ~flagged_by_fit
    unl = labels == UNLABELLED
    pos = labels == POSITIVE
    flagged_unl = int((prior_flagged & unl).sum())
    flagged_pos = int((prior_flagged & pos).sum())
    return {
        "prior_flagged_unlabelled": flagged_unl,
        "dropped_unlabelled": int((dropped & unl).sum()),
        "dropped_share": round(float((dropped & unl).sum() / max(flagged_unl, 1)), 4),
        "prior_flagged_positive": flagged_pos,
        "dropped_positive": int((dropped & pos).sum()),
        "dropped_positive_share": round(float((dropped & pos).sum() / max(flagged_pos, 1)), 4),
        "added_positive": int((flagged_by_fit & ~prior_flagged & pos).sum()),
        "dropped_negative": int((dropped & (labels == NEGATIVE)).sum()),
    }


def _fit(
    features: Mapping[str, np.ndarray],
    labels: np.ndarray,
    params: CalibrationParams,
    seed: int,
    prior_flagged: np.ndarray | None = None,
) -> Calibration:
    labels = np.asarray(labels, dtype=np.int8)
    n_pos = int((labels == POSITIVE).sum())
    n_neg = int((labels == NEGATIVE).sum())
    counts = {"positive": n_pos, "negative": n_neg, "unlabelled": len(labels) - n_pos - n_neg}
    record: dict[str, Any] = {
        "model": PRIOR,
        "rings": counts,
        "label_derived_features": list(LABEL_DERIVED),
        "min_positive_rings": params.min_positive_rings,
        "target_precision": {
            "fraud": params.target_precision_fraud,
            "suspicious": params.target_precision_suspicious,
        },
    }
    if not params.enabled:
        return Calibration(None, {**record, "reason": "calibration disabled"})
    if n_pos < params.min_positive_rings:
        reason = (
            f"{n_pos} positive rings < {params.min_positive_rings}: hand-set weights kept"
            " as the prior"
        )
        return Calibration(None, {**record, "reason": reason})
    if n_pos == len(labels):
        return Calibration(None, {**record, "reason": "every ring is labelled positive"})

    raw = design_matrix(features, FIT_FEATURES)
    s = labels == POSITIVE
    # Out-of-fold scores of the whole procedure (standardisation included), folds over rings.
    oof = np.zeros(len(labels))
    fold_c = []
    for k, (train, test) in enumerate(_folds(s, params.folds, seed)):
        mean, scale = _standardise(raw[train])
        coef, b, c_k, _ = _elkan_noto(
            (raw[train] - mean) / scale, labels[train], params, seed + k + 1
        )
        oof[test] = _predict((raw[test] - mean) / scale, coef, b)
        fold_c.append(c_k)
    mean, scale = _standardise(raw)
    coef, b, c, c_high = _elkan_noto((raw - mean) / scale, labels, params, seed)

    thresholds, precision = estimated_precision(
        oof, labels, c_high, params.min_negative_rings, params.min_support
    )
    t_fraud = threshold_for(thresholds, precision, params.target_precision_fraud)
    t_susp = threshold_for(thresholds, precision, params.target_precision_suspicious)
    auc_pu = _auc(s, oof)
    # Positives hidden among the unlabelled pull the labelled-vs-rest AUC towards 1/2:
    # AUC_pu = (1 - a) AUC + a/2 with a their share among the rings not labelled positive.
    a = float(np.clip((n_pos / c - n_pos) / max(len(labels) - n_pos, 1), 0.0, 0.99))
    known = labels != UNLABELLED
    cv: dict[str, Any] = {
        "folds": len(fold_c),
        "roc_auc": (_auc(s[known], oof[known]) if n_neg >= params.min_negative_rings else None),
        "roc_auc_pu": auc_pu,
        "roc_auc_pu_corrected": (
            None if auc_pu is None else round(float(np.clip((auc_pu - a / 2) / (1 - a), 0, 1)), 4)
        ),
        "label_frequency": round(c, 4),
        "label_frequency_high": round(c_high, 4),
        "label_frequency_folds": [round(v, 4) for v in fold_c],
    }
    auc = cv["roc_auc"] if cv["roc_auc"] is not None else cv["roc_auc_pu_corrected"]
    if auc is None or auc < params.min_cv_auc:
        reason = f"cross-validated AUC {auc} < {params.min_cv_auc}: prior kept"
        return Calibration(None, {**record, "cv": cv, "reason": reason})
    if t_fraud is None or t_susp is None:
        cv["best_precision"] = round(float(precision.max()), 4) if precision.size else None
        reason = "the target precision is not reached on cross-validated scores: prior kept"
        return Calibration(None, {**record, "cv": cv, "reason": reason})
    at = oof >= t_fraud
    cv["precision_at_fraud"] = round(float(precision[thresholds == t_fraud][0]), 4)
    cv["precision_at_suspicious"] = round(float(precision[thresholds == t_susp][0]), 4)
    cv["positives_at_fraud"] = round(float((at & s).sum() / max(n_pos, 1)), 4)
    labelled_at = at & known
    cv["labelled_precision_at_fraud"] = (
        round(float((labelled_at & s).sum() / labelled_at.sum()), 4) if labelled_at.any() else None
    )
    # The prior, judged the same way (its ban-free logit, the same precision estimate): a fit
    # that finds fewer labelled fraud rings at the target precision than the prior does not
    # replace it.
    prior_logit = np.asarray(features[PRIOR_LOGIT], dtype=np.float64)
    p_thresholds, p_precision = estimated_precision(
        prior_logit, labels, c_high, params.min_negative_rings, params.min_support
    )
    p_fraud = threshold_for(p_thresholds, p_precision, params.target_precision_fraud)
    prior_found = 0.0 if p_fraud is None else float((s & (prior_logit >= p_fraud)).sum() / n_pos)
    cv["prior_roc_auc_pu"] = _auc(s, prior_logit)
    cv["prior_positives_at_fraud"] = round(prior_found, 4)
    if prior_found > cv["positives_at_fraud"]:
        reason = (
            f"the fit finds {cv['positives_at_fraud']:.0%} of labelled fraud rings at the target"
            f" precision, the prior {prior_found:.0%}: prior kept"
        )
        return Calibration(None, {**record, "cv": cv, "reason": reason})
    if prior_flagged is not None:
        drop = _dropped_by_fit(oof >= t_susp, np.asarray(prior_flagged, bool), labels)
        cv["prior_flags_dropped"] = drop
        # Clearances outnumbering confirmed fraud among the dropped flags, and enough of them
        # to count, show the prior wrong there; otherwise the drop is unsupported.
        refuted = drop["dropped_negative"] >= max(
            params.min_negative_rings, 2 * drop["dropped_positive"]
        )
        if drop["dropped_positive_share"] > params.max_positive_dropped:
            reason = (
                f"the fit leaves {drop['dropped_positive_share']:.0%} of the labelled fraud rings"
                f" the prior flags benign (at most {params.max_positive_dropped:.0%}): prior kept"
            )
            return Calibration(None, {**record, "cv": cv, "reason": reason})
        if drop["dropped_share"] > params.max_unlabelled_dropped and not refuted:
            reason = (
                f"the fit leaves {drop['dropped_share']:.0%} of the unlabelled rings the prior"
                f" flags benign (at most {params.max_unlabelled_dropped:.0%} without reviewers'"
                " clearances against them): prior kept"
            )
            return Calibration(None, {**record, "cv": cv, "reason": reason})
    model = VerdictModel(FIT_FEATURES, mean, scale, coef, b, t_fraud, t_susp)
    record.update(model=CALIBRATED, reason="fitted on this run's labels", cv=cv)
    record["fitted"] = model.to_record()
    return Calibration(model, record)


def to_scale(
    probability: np.ndarray,
    model: VerdictModel,
    fraud_at: float,
    suspicious_at: float,
) -> np.ndarray:
    """Monotone piecewise-linear map of P(fraud) onto the verdict scale: the model's suspicious
    and fraud thresholds land on `suspicious_at` and `fraud_at`."""
    t_s, t_f = model.suspicious_threshold, model.fraud_threshold
    t_f = max(t_f, t_s)
    xp = [0.0, t_s, t_f, 1.0]
    fp = [0.0, suspicious_at, fraud_at, 1.0]
    # np.interp needs increasing xp; equal knots (t_s == 0, t_f == 1...) are nudged apart.
    for i in range(1, 4):
        xp[i] = max(xp[i], xp[i - 1] + 1e-9)
    out = np.interp(probability, xp, fp)
    return np.asarray(np.clip(out, 0.0, 1.0))


def explanations(
    model: VerdictModel, features: Mapping[str, np.ndarray], top: int | None = None
) -> list[dict[str, Any]]:
    """Per ring: P(fraud), the logit's base and each feature's contribution, largest first."""
    contrib = model.contributions(features)
    prob = model.probability(features)
    out = []
    for r in range(contrib.shape[0]):
        order = np.argsort(-np.abs(contrib[r]), kind="stable")
        if top is not None:
            order = order[:top]
        out.append(
            {
                "model": CALIBRATED,
                "probability": round(float(prob[r]), 4),
                "base": round(float(model.intercept), 4),
                "contributions": {
                    model.features[j]: round(float(contrib[r, j]), 4) for j in order.tolist()
                },
            }
        )
    return out


FIT, USE_PRIOR = "fit", "prior"


def judge_rings(
    features: Mapping[str, np.ndarray],
    groups: Sequence[np.ndarray],
    prior_scores: np.ndarray,
    labels: np.ndarray,
    *,
    model: VerdictModel | str,
    params: CalibrationParams,
    fraud_at: float,
    suspicious_at: float,
    seed: int,
    prior: VerdictParams = VerdictParams(),
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """The detection pipeline's hook: (scores on the verdict scale, per-ring explanation,
    record). `model`: FIT (a full run fits on `labels`), USE_PRIOR, or a model fitted before
    (incremental runs reuse the last full run's, so verdicts do not flap between runs)."""
    if groups:
        features = with_prior_logit(features, prior)
    if isinstance(model, VerdictModel):
        record: dict[str, Any] = {"model": CALIBRATED, "reason": "the last full run's model"}
        record["fitted"] = model.to_record()
    elif model == FIT:
        fitted = fit_verdict_model(
            features,
            ring_labels(groups, labels),
            params,
            seed=seed,
            prior_flagged=np.asarray(prior_scores) >= prior.suspicious_threshold,
        )
        record = fitted.record
        if fitted.model is None:
            return prior_scores, [{"model": PRIOR}] * len(groups), record
        model = fitted.model
    elif model == USE_PRIOR:
        reason = "hand-set weights: no fitted model given (none fitted yet, or not asked to fit)"
        return prior_scores, [{"model": PRIOR}] * len(groups), {"model": PRIOR, "reason": reason}
    else:
        raise ValueError(f"unknown verdict model {model!r}")
    assert isinstance(model, VerdictModel)
    if not groups:
        return prior_scores, [], record
    prob = model.probability(features)
    scores = to_scale(prob, model, fraud_at, suspicious_at)
    explained = explanations(model, features)
    prior_scores = np.asarray(prior_scores, dtype=np.float64)
    held = (prior_scores < params.min_prior_score) & (scores >= suspicious_at)
    for r in np.flatnonzero(held).tolist():
        explained[r]["held_by_prior"] = round(float(prior_scores[r]), 4)
    record["held_by_prior"] = int(held.sum())
    return np.where(held, prior_scores, scores), explained, record
