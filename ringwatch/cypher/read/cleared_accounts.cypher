// Negative labels for the verdict model (detectors.calibration): accounts whose newest
// enforcement is a clearance (an appeal upheld, a `legit` review).
MATCH (a:Account) WHERE a.status = 'clear'
RETURN a.id AS id, a.status_ts AS at
