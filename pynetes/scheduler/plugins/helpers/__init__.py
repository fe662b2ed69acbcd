"""Pod and node predicates several plugins share."""
