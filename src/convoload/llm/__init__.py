"""LLM access: OpenAI-compatible providers behind a small chain with retries, fallback and costs."""
