"""HTTP only: routes, request parsing, SSE framing, error mapping."""
