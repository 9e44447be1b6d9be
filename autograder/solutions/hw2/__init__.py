"""hw2: optimization-based (MAML) and non-parametric (prototypical networks) meta-learning."""
