"""hw3: Bayesian meta-learning, measured against the exact Bayes-optimal predictor."""
