"""The feature platform: every feature a strategy can read, declared once (docs/features.md).

registry   FEATURES (name, type, description, computation, source, freshness), FeatureSet
signals    disposable email domains, datacenter/proxy ranges, declared age
assemble   facts (account, graph counts, detection row) -> FeatureSet, shared by the live
           decision service and backtests
detections precomputed features from detection exports or a DetectionResult
replay     features as of each event's time from an in-memory replay (backtests)
"""

from ringwatch.features.assemble import AccountFacts, DetectionFacts, GraphFacts, assemble
from ringwatch.features.detections import Detections
from ringwatch.features.registry import (
    FEATURES,
    Feature,
    FeatureSet,
    FeatureValue,
    Source,
    feature_names,
    feature_set,
)
from ringwatch.features.signals import (
    DatacenterRanges,
    declared_age_years,
    disposable_domains,
    is_disposable,
)

__all__ = [
    "FEATURES",
    "AccountFacts",
    "DatacenterRanges",
    "DetectionFacts",
    "Detections",
    "Feature",
    "FeatureSet",
    "FeatureValue",
    "GraphFacts",
    "Source",
    "assemble",
    "declared_age_years",
    "disposable_domains",
    "feature_names",
    "feature_set",
    "is_disposable",
]
