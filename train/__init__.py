"""Training: capped RFT, verifier, reranking, pass@k and best@k."""
