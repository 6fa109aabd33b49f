"""Vector-store search: attribute filters, the per-store chunk index and hybrid fusion.

``filters`` parses OpenAI attribute filters once and evaluates them two ways that must agree
(a Python predicate and a SQLite WHERE fragment). ``index`` holds the ``ChunkIndex`` Protocol
that callers program against; ``embedded_index`` is the server-less implementation (SQLite FTS5
for keywords, a quantized faiss HNSW graph for vectors). ``fusion`` merges rankings.
"""
